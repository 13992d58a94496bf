// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/merge.h"

#include <iterator>

namespace levqor::controld::metrics {

MetricFamily* ExpositionMerger::target_for(MetricFamily& family) {
    auto [it, inserted] = index_.emplace(family.name, families_.size());
    if (inserted) {
        MetricFamily merged;
        merged.name = family.name;
        merged.help = std::move(family.help);
        merged.type = family.type;
        families_.push_back(std::move(merged));
        return &families_.back();
    }
    auto& merged = families_[it->second];
    if (merged.type != family.type) {
        ++conflicts_;
        return nullptr;
    }
    if (merged.help.empty()) merged.help = std::move(family.help);
    return &merged;
}

void ExpositionMerger::add_local(std::vector<MetricFamily> families) {
    for (auto& family : families) {
        auto* target = target_for(family);
        if (target == nullptr) continue;
        target->samples.insert(target->samples.end(), std::make_move_iterator(family.samples.begin()),
                               std::make_move_iterator(family.samples.end()));
    }
}

void ExpositionMerger::add_instance(const std::string& instance, std::vector<MetricFamily> families) {
    for (auto& family : families) {
        auto* target = target_for(family);
        if (target == nullptr) continue;
        target->samples.reserve(target->samples.size() + family.samples.size());
        for (auto& sample : family.samples) {
            for (auto& label : sample.labels) {
                if (label.name == "instance") label.name = "exported_instance";
            }
            // In place: the parser leaves room for this label.
            sample.labels.insert(sample.labels.begin(), Label{"instance", instance});
            target->samples.push_back(std::move(sample));
        }
    }
}

}  // namespace levqor::controld::metrics
