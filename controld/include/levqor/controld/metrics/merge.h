// SPDX-License-Identifier: Apache-2.0
// One exposition out of controld's own metric families and those scraped from
// each nginx instance (an instance label on every sample, one HELP and TYPE
// per family, conflicting types left out). ExpositionMerger is not
// thread-safe: one per exposition.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "levqor/controld/metrics/exposition.h"

namespace levqor::controld::metrics {

// Builds one exposition out of controld's own families and those scraped
// from each nginx instance (docs/metrics.md, "Aggregation"):
//
// - every sample from an instance gets instance="<name>" as its first label;
//   a label already called `instance` is renamed `exported_instance`, as
//   Prometheus does when it scrapes;
// - a family keeps one HELP and TYPE however many instances (and controld
//   itself) contribute to it: the first contributor's;
// - a family whose TYPE differs from the one already merged under that name
//   is left out for that instance and counted in conflicts();
// - families stay in the order they first appear, and the samples of a
//   family stay together (histograms' _bucket/_sum/_count included), so the
//   result passes `promtool check metrics` when its inputs do.
//
// Thread-safety: none; one merger per exposition.
class ExpositionMerger {
public:
    void add_local(std::vector<MetricFamily> families);
    void add_instance(const std::string& instance, std::vector<MetricFamily> families);

    const std::vector<MetricFamily>& families() const { return families_; }
    std::size_t conflicts() const { return conflicts_; }

private:
    // The merged family for `family`, or nullptr when the types conflict.
    MetricFamily* target_for(MetricFamily& family);

    std::vector<MetricFamily> families_;
    std::unordered_map<std::string, std::size_t> index_;
    std::size_t conflicts_ = 0;
};

}  // namespace levqor::controld::metrics
