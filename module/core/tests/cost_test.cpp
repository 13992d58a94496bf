// SPDX-License-Identifier: Apache-2.0
#include "levqor/cost.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cost_grammar_cases.h"
#include "levqor/prometheus_text.h"

namespace levqor::cost {
namespace {

using Kind = Amount::Kind;

// The amount table (cost_grammar_cases.h) through the module's parse_usd:
// Valid where the grammar accepts, Empty for "", Invalid for every refusal.
TEST(CostAmount, TheAmountTableThroughTheFastPath) {
    for (const auto& c : amount_cases()) {
        if (c.max != kMaxNanos) continue;
        const Amount a = parse_usd(c.text);
        const Kind want = c.error == AmountError::None    ? Kind::Valid
                          : c.error == AmountError::Empty ? Kind::Empty
                                                          : Kind::Invalid;
        EXPECT_EQ(a.kind, want) << '"' << c.text << '"';
        EXPECT_EQ(a.nanos, c.nanos) << '"' << c.text << '"';
    }
}

TEST(CostAmount, AnEmptyValueCountsNothingButBlankTextIsInvalid) {
    EXPECT_EQ(parse_usd("").kind, Kind::Empty);
    EXPECT_EQ(parse_usd(" ").kind, Kind::Invalid);
    EXPECT_EQ(parse_usd("\t \t").kind, Kind::Invalid);
}

TEST(CostAmount, TextLongerThanTheBoundIsInvalid) {
    const std::string at_bound = "0." + std::string(kMaxAmountText - 2, '1');
    EXPECT_EQ(parse_usd(at_bound).kind, Kind::Valid);
    EXPECT_EQ(parse_usd(at_bound + "1").kind, Kind::Invalid);
    EXPECT_EQ(parse_usd(std::string(kMaxAmountText + 1, ' ')).kind, Kind::Invalid);
}

// The fast path (one loop) and the general parser agree on every input:
// every string of up to 4 characters over an alphabet of the grammar's
// characters and a few others, and a table of longer ones.
TEST(CostAmount, TheFastPathAgreesWithTheGeneralParser) {
    const std::string alphabet = "0159.+- \tex";
    std::vector<std::string> inputs{""};
    for (int len = 1; len <= 4; ++len) {
        std::vector<std::string> next;
        for (const auto& prefix : inputs) {
            if (prefix.size() + 1 != static_cast<std::size_t>(len)) continue;
            for (const char c : alphabet) next.push_back(prefix + c);
        }
        inputs.insert(inputs.end(), next.begin(), next.end());
    }
    for (const std::string_view s :
         {"0.123456789", "0.1234567891", "0.1234567895", "1000000", "1000000.000000001", "999999.999999999",
          "9999999999999999999", "99999999999999999999", "0000000000000000000000001", "1000000.0000000000000",
          "00000000000000000001.5", "18446744073709551616"}) {
        inputs.emplace_back(s);
    }
    for (const auto& c : amount_cases()) inputs.emplace_back(c.text);
    // Every byte at every position of amounts with 0 to 10 fractional
    // digits (the fast path reads four fractional digits at a time).
    for (std::size_t fraction = 0; fraction <= 10; ++fraction) {
        const std::string base = "12." + std::string("9876543210").substr(0, fraction);
        for (std::size_t at = 0; at < base.size(); ++at) {
            for (int byte = 0; byte < 256; ++byte) {
                std::string s = base;
                s[at] = static_cast<char>(byte);
                inputs.push_back(s);
            }
        }
    }
    for (const auto& in : inputs) {
        const Amount fast = parse_usd(in);
        const Amount general = detail::parse_usd_general(in);
        ASSERT_EQ(fast.kind, general.kind) << '"' << in << '"';
        ASSERT_EQ(fast.nanos, general.nanos) << '"' << in << '"';
    }
}

// ---- levqor_cost arguments -------------------------------------------------

Parsed<CostArgs> args(std::vector<std::string_view> a) { return parse_cost_args(a); }

TEST(CostArgs, AVariableAmountAndConnectorStayUnparsed) {
    const auto p = args({"$upstream_http_x_ai_cost_usd", "connector=$levqor_connector"});
    ASSERT_TRUE(p) << p.error();
    EXPECT_FALSE(p.value().off);
    EXPECT_EQ(p.value().amount, "$upstream_http_x_ai_cost_usd");
    EXPECT_FALSE(p.value().literal_nanos.has_value());
    EXPECT_EQ(p.value().connector, "$levqor_connector");
    EXPECT_FALSE(p.value().connector_literal);
}

TEST(CostArgs, LiteralsAreParsedOnceAtConfigurationTime) {
    const auto p = args({"0.002", "connector=openai"});
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p.value().literal_nanos, 2000000u);
    EXPECT_EQ(p.value().connector, "openai");
    EXPECT_TRUE(p.value().connector_literal);
}

TEST(CostArgs, WithoutConnectorTheSeriesIsDefault) {
    const auto p = args({"$cost"});
    ASSERT_TRUE(p);
    EXPECT_EQ(p.value().connector, "default");
    EXPECT_TRUE(p.value().connector_literal);
}

TEST(CostArgs, OffTakesNoParameters) {
    ASSERT_TRUE(args({"off"}));
    EXPECT_TRUE(args({"off"}).value().off);
    EXPECT_EQ(args({"off", "connector=a"}).error(), "invalid parameter \"connector=a\" after off");
}

TEST(CostArgs, MessagesNameTheBadValue) {
    EXPECT_EQ(
        args({"-1"}).error(),
        "invalid amount \"-1\", expected a decimal USD amount from 0 to 1000000 (e.g. 0.0123), a variable or off");
    EXPECT_EQ(args({""}).error(),
              "invalid amount \"\", expected a decimal USD amount from 0 to 1000000 (e.g. 0.0123), a variable or off");
    EXPECT_EQ(args({"$c", "conector=a"}).error(), "invalid parameter \"conector=a\"");
    EXPECT_EQ(args({"$c", "connector=a", "connector=b"}).error(), "duplicate parameter \"connector=b\"");
    EXPECT_EQ(args({"$c", "connector="}).error(),
              "invalid connector name \"\", expected 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-' or a "
              "variable");
    EXPECT_EQ(args({"$c", "connector=open ai"}).error(),
              "invalid connector name \"open ai\", expected 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-' "
              "or a variable");
    EXPECT_FALSE(args({"$c", "connector=a/b"}));
}

// ---- CostTable -------------------------------------------------------------

struct TableMemory {
    std::vector<std::uint64_t> words = std::vector<std::uint64_t>(CostTable::bytes() / 8 + 8);
    void* aligned() {
        auto p = reinterpret_cast<std::uintptr_t>(words.data());
        return reinterpret_cast<void*>((p + 63) / 64 * 64);
    }
};

// The rule is levqor_common's (cost_grammar_test.cpp); a name outside it
// counts under "other".
TEST(CostConnector, AnInvalidNameCountsAsOther) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    EXPECT_EQ(t.slot_for("a/b", 1), CostTable::kOther);
    EXPECT_EQ(t.slot_for("say\"hi", 1), CostTable::kOther);
    EXPECT_EQ(t.slot_for("open ai", 1), CostTable::kOther);
    EXPECT_NE(t.slot_for("azure:eu-west.1", 1), CostTable::kOther);
}

TEST(CostTable, AMillionNanoDollarAddsAreExactlyOneThousandth) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    const std::size_t s = t.slot_for("openai", 1);
    const Amount one = parse_usd("0.000000001");
    for (int i = 0; i < 1000000; ++i) t.add(s, one.nanos);
    const auto snap = t.snapshot();
    ASSERT_EQ(snap.size(), 2u);
    EXPECT_EQ(snap[0].connector, "openai");
    EXPECT_EQ(snap[0].nanos, 1000000u);
    EXPECT_EQ(prometheus::format_fixed_point(snap[0].nanos, 9), "0.001");
}

TEST(CostTable, ANameKeepsItsSlot) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    EXPECT_EQ(t.find("a"), CostTable::kSlots);
    const std::size_t a = t.slot_for("a", 1);
    const std::size_t b = t.slot_for("b", 1);
    EXPECT_NE(a, b);
    EXPECT_EQ(t.slot_for("a", 1), a);
    EXPECT_EQ(t.find("a"), a);
    EXPECT_EQ(t.find("b"), b);
}

TEST(CostTable, The65thConnectorAndInvalidNamesCountAsOther) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    for (std::size_t i = 0; i < kMaxConnectors; ++i) {
        EXPECT_NE(t.slot_for("c" + std::to_string(i), 1), CostTable::kOther) << i;
    }
    EXPECT_EQ(t.slot_for("c64", 1), CostTable::kOther);
    EXPECT_EQ(t.slot_for("c0", 1), t.find("c0"));  // the first 64 keep theirs
    EXPECT_NE(t.find("c0"), CostTable::kOther);

    TableMemory fresh;
    CostTable u = CostTable::create(fresh.aligned());
    EXPECT_EQ(u.slot_for("other", 1), CostTable::kOther);
    EXPECT_EQ(u.slot_for("", 1), CostTable::kOther);
    EXPECT_EQ(u.slot_for("two words", 1), CostTable::kOther);
    EXPECT_EQ(u.slot_for(std::string(kMaxConnectorName + 1, 'x'), 1), CostTable::kOther);
    EXPECT_EQ(u.snapshot().size(), 1u);  // none of them claimed a slot
}

TEST(CostTable, SnapshotIsSortedByNameWithOtherLast) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    t.add(t.slot_for("zeta", 1), 3);
    t.add(t.slot_for("alpha", 1), 5);
    t.add(t.slot_for("bad name", 1), 7);
    t.count_invalid();
    t.count_invalid();
    const auto snap = t.snapshot();
    ASSERT_EQ(snap.size(), 3u);
    EXPECT_EQ(snap[0].connector, "alpha");
    EXPECT_EQ(snap[0].nanos, 5u);
    EXPECT_EQ(snap[1].connector, "zeta");
    EXPECT_EQ(snap[1].nanos, 3u);
    EXPECT_EQ(snap[2].connector, "other");
    EXPECT_EQ(snap[2].nanos, 7u);
    EXPECT_EQ(t.invalid(), 2u);
}

TEST(CostTable, AttachKeepsNamesAndCountersAndRefusesOtherMemory) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    t.add(t.slot_for("openai", 1), 42);
    t.count_invalid();
    CostTable again;
    EXPECT_EQ(CostTable::attach(mem.aligned(), again), "");
    ASSERT_TRUE(again.valid());
    EXPECT_EQ(again.find("openai"), t.find("openai"));
    EXPECT_EQ(again.snapshot()[0].nanos, 42u);
    EXPECT_EQ(again.invalid(), 1u);

    TableMemory zeros;
    CostTable none;
    EXPECT_NE(CostTable::attach(zeros.aligned(), none), "");
    EXPECT_FALSE(none.valid());
}

// Two processes claim the same 40 names and add to them: one slot per name,
// every addition counted.
TEST(CostTable, OneSlotPerNameAcrossProcesses) {
    const std::size_t bytes = CostTable::bytes();
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    CostTable t = CostTable::create(mem);
    constexpr int kNames = 40;
    constexpr int kRounds = 200;
    pid_t children[2];
    for (pid_t& child : children) {
        child = fork();
        if (child == 0) {
            for (int r = 0; r < kRounds; ++r) {
                for (int i = 0; i < kNames; ++i) t.add(t.slot_for("n" + std::to_string(i), getpid()), 1);
            }
            _exit(0);
        }
    }
    for (pid_t child : children) {
        int status = 0;
        waitpid(child, &status, 0);
        EXPECT_EQ(status, 0);
    }
    const auto snap = t.snapshot();
    ASSERT_EQ(snap.size(), static_cast<std::size_t>(kNames) + 1);
    for (int i = 0; i < kNames; ++i) EXPECT_EQ(snap[i].nanos, 2u * kRounds) << snap[i].connector;
    EXPECT_EQ(snap.back().nanos, 0u);
    munmap(mem, bytes);
}

TEST(CostTable, RendersBothFamiliesExactly) {
    TableMemory mem;
    CostTable t = CostTable::create(mem.aligned());
    t.add(t.slot_for("openai", 1), 12300000000);
    t.add(t.slot_for("azure:eu-west.1", 1), 1);
    t.count_invalid();
    std::string out;
    render(out, t);
    EXPECT_EQ(out,
              "# HELP levqor_ai_cost_usd_total AI spend in USD reported per request by levqor_cost, by connector "
              "(exact to 1e-9).\n"
              "# TYPE levqor_ai_cost_usd_total counter\n"
              "levqor_ai_cost_usd_total{connector=\"azure:eu-west.1\"} 0.000000001\n"
              "levqor_ai_cost_usd_total{connector=\"openai\"} 12.3\n"
              "levqor_ai_cost_usd_total{connector=\"other\"} 0\n"
              "# HELP levqor_cost_invalid_total levqor_cost amounts that were not a decimal USD amount from 0 to "
              "1000000 (ignored; the request is not affected).\n"
              "# TYPE levqor_cost_invalid_total counter\n"
              "levqor_cost_invalid_total 1\n");
}

}  // namespace
}  // namespace levqor::cost
