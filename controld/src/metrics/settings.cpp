// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/settings.h"

#include <optional>
#include <set>

#include "levqor/controld/core/urls.h"

namespace levqor::controld::metrics {
namespace {

using nlohmann::json;

// "name=url" or "url".
NginxInstance instance_value(const std::string& text, const std::string& name = "") {
    std::string url = text;
    std::string given_name = name;
    const auto eq = text.find('=');
    const auto scheme = text.find("://");
    if (given_name.empty() && eq != std::string::npos && (scheme == std::string::npos || eq < scheme)) {
        given_name = text.substr(0, eq);
        url = text.substr(eq + 1);
        if (given_name.empty()) invalid("empty instance name before '='");
    }
    const auto parsed = parse_http_url(url);
    return NginxInstance{given_name.empty() ? parsed.authority() : given_name, url};
}

void check_unique_names(const std::vector<NginxInstance>& instances) {
    std::set<std::string> names;
    for (const auto& instance : instances) {
        // controld's own samples in shared families (levqor_ai_cost_usd_total
        // from POST /usage) carry instance="controld".
        if (instance.name == "controld") {
            invalid("the instance name \"controld\" is reserved for controld's own samples; choose another");
        }
        if (!names.insert(instance.name).second) {
            invalid("two instances are named " + quoted(instance.name) +
                    "; give each a distinct name (name=url, or {\"name\":...,\"url\":...})");
        }
    }
}

// {"name":...,"url":...}: the name, then the instance once the url is read.
struct InstanceFields {
    std::string name;
    std::optional<NginxInstance> instance;
};

const Keys<InstanceFields>& instance_keys() {
    using S = InstanceFields;
    static const Keys<S> keys = {
        string_key<S>("name",
                      [](const std::string& v, S& out) {
                          if (v.empty()) invalid("empty name");
                          out.name = v;
                      }),
        string_key<S>("url", [](const std::string& v, S& out) { out.instance = instance_value(v, out.name); }),
    };
    return keys;
}

std::vector<NginxInstance> read_instances(const SettingsReader& reader, const std::string& key, const json& list) {
    if (!list.is_array()) {
        reader.bad(key, list, "expected a list of URLs or {\"name\":...,\"url\":...} objects");
    }
    std::vector<NginxInstance> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& item = list[i];
        const auto item_key = key + "[" + std::to_string(i) + "]";
        if (item.is_string()) {
            reader.string_value(item_key, item, [&](const std::string& v) { out.push_back(instance_value(v)); });
            continue;
        }
        if (!item.is_object()) {
            reader.bad(item_key, item, "expected a URL or {\"name\":...,\"url\":...}");
        }
        reader.check_keys(item, item_key + ".", key_names(instance_keys()));
        if (!item.contains("url")) reader.bad(item_key, item, "missing \"url\"");
        InstanceFields fields;
        read_keys(reader, item, item_key + ".", instance_keys(), fields);
        out.push_back(*fields.instance);
    }
    try {
        check_unique_names(out);
    } catch (const std::invalid_argument& e) {
        reader.bad(key, list, e.what());
    }
    return out;
}

const Keys<MetricsSettings>& top_keys() {
    using S = MetricsSettings;
    static const Keys<S> keys = {
        {"nginx_status_urls", [](const SettingsReader& r, const std::string& key, const json& value,
                                 S& out) { out.nginx_instances = read_instances(r, key, value); }},
        integer_key("scrape_timeout_ms", 10, 60000, &S::scrape_timeout),
        integer_key("latency_window_s", 10, 86400, &S::latency_window),
    };
    return keys;
}

void read_environment(const EnvReader& e, MetricsSettings& out) {
    e.with("LEVQOR_NGINX_STATUS_URLS", [&](const std::string& v) {
        std::vector<NginxInstance> instances;
        for (const auto& item : split_commas(v)) instances.push_back(instance_value(item));
        check_unique_names(instances);
        out.nginx_instances = std::move(instances);
    });
}

}  // namespace

ConfigPart config_part(MetricsSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const MetricsSettings& s) {
    auto instances = nlohmann::ordered_json::array();
    for (const auto& i : s.nginx_instances) instances.push_back({{"name", i.name}, {"url", i.url}});
    return {{"nginx_status_urls", std::move(instances)},
            {"scrape_timeout_ms", s.scrape_timeout.count()},
            {"latency_window_s", s.latency_window.count()}};
}

}  // namespace levqor::controld::metrics
