// SPDX-License-Identifier: Apache-2.0
// Parity: what a backup's contents are, per table, so a restore can be compared with the
// source at the dump's exact snapshot (issue 13). Plain values; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace levqor::controld::backup {

// One table: its row count and an order-independent digest that changes when any value of
// any row changes (hex text, as computed by the engine that read it).
struct TableParity {
    std::uint64_t rows = 0;
    std::string digest;
    bool operator==(const TableParity& o) const { return rows == o.rows && digest == o.digest; }
};

// Qualified table name ("schema.table" for PostgreSQL, "table" for SQLite) -> parity.
using Parity = std::map<std::string, TableParity>;

// The differences, one per line, at most `limit` lines then "... and N more";
// empty when equal: "public.t: 10 rows expected, 11 restored",
// "public.t: content differs (10 rows)", "public.u: missing in the restore",
// "public.v: not in the backup". Both engines' drills report with it.
std::string describe_mismatch(const Parity& expected, const Parity& actual, std::size_t limit = 20);

}  // namespace levqor::controld::backup
