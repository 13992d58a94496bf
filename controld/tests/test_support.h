// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the controld unit tests.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/config.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld::testing {

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
public:
    TempDir() {
        char path[] = "/tmp/levqor-controld-test-XXXXXX";
        const char* made = ::mkdtemp(path);
        dir_ = made != nullptr ? made : "/tmp";
    }
    ~TempDir() {
        if (dir_.rfind("/tmp/levqor-controld-test-", 0) == 0) {
            std::system(("rm -rf '" + dir_ + "'").c_str());
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return dir_; }
    std::string file(const std::string& name) const { return dir_ + "/" + name; }
    std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
        const auto path = file(name);
        std::ofstream(path, std::ios::trunc) << content;
        ::chmod(path.c_str(), mode);
        return path;
    }
    std::string read(const std::string& name) const {
        std::ifstream in(file(name));
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

private:
    std::string dir_;
};

// A Logger whose lines are kept, parsed, for assertions.
struct CapturedLog {
    std::mutex mutex;
    std::vector<nlohmann::json> lines;
    Logger logger{LogLevel::debug, [this](std::string_view line) {
                      std::lock_guard<std::mutex> lock(mutex);
                      lines.push_back(nlohmann::json::parse(line));
                  }};
    std::vector<nlohmann::json> snapshot() {
        std::lock_guard<std::mutex> lock(mutex);
        return lines;
    }
    bool has(const std::string& msg) {
        for (const auto& line : snapshot()) {
            if (line.value("msg", "") == msg) return true;
        }
        return false;
    }
};

inline EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// The bearer tokens the in-process tests write into token files for App.
inline const std::string kAdminToken = "admin-token-0123456789abcdef0123";
inline const std::string kProducerToken = "producer-token-0123456789abcdef01";

// A variable of the test process's environment, "" when unset (the suites
// that find a server through it, e.g. LEVQOR_TEST_PG_URL).
inline std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

// A config that listens on 127.0.0.1 port 0 and keeps its data in `dir`.
// The message of the ConfigError that load() throws; "" when it throws none.
template <typename Load>
std::string config_error_of(Load&& load) {
    try {
        load();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

inline Config app_config(const TempDir& dir) {
    Config config;
    config.listen = ListenAddress{"127.0.0.1", 0};
    config.data_dir = dir.path();
    config.flags.file = dir.file("flags");
    return config;
}

}  // namespace levqor::controld::testing
