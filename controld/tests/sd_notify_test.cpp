// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/sd_notify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <stdexcept>

#include "test_support.h"

namespace levqor::controld {
namespace {

using namespace std::chrono_literals;
using testing::env_of;

TEST(SdNotify, ParsesPathAndAbstractSocketNames) {
    const auto path = parse_notify_socket("/run/systemd/notify");
    EXPECT_EQ(path.addr.sun_family, AF_UNIX);
    EXPECT_STREQ(path.addr.sun_path, "/run/systemd/notify");
    EXPECT_EQ(path.length, offsetof(sockaddr_un, sun_path) + 20);  // with the NUL

    const auto abstract = parse_notify_socket("@sd-notify");
    EXPECT_EQ(abstract.addr.sun_path[0], '\0');
    EXPECT_EQ(std::string(abstract.addr.sun_path + 1, 9), "sd-notify");
    EXPECT_EQ(abstract.length, offsetof(sockaddr_un, sun_path) + 10);  // no NUL: the length ends it

    for (const char* bad : {"", "@", "relative", "vsock:2:1", "/"}) {
        EXPECT_THROW(parse_notify_socket(bad), std::invalid_argument) << bad;
    }
    EXPECT_THROW(parse_notify_socket("/" + std::string(200, 'a')), std::invalid_argument);
}

TEST(SdNotify, WatchdogIsForThisProcessOnly) {
    EXPECT_EQ(parse_watchdog(std::nullopt, std::nullopt, 42), std::nullopt);
    EXPECT_EQ(parse_watchdog("30000000", std::nullopt, 42), 30s);
    EXPECT_EQ(parse_watchdog("30000000", "42", 42), 30s);
    EXPECT_EQ(parse_watchdog("30000000", "43", 42), std::nullopt);
    for (const char* bad : {"", "0", "-5", "1e6", "99999999999999999999"}) {
        EXPECT_THROW(parse_watchdog(std::string(bad), std::nullopt, 42), std::invalid_argument) << bad;
    }
}

TEST(SdNotify, WatchdogPingsEveryHalfInterval) {
    const auto t0 = WatchdogClock::Clock::time_point{} + 1h;
    WatchdogClock clock(10s, t0);
    EXPECT_EQ(clock.period(), 5s);
    EXPECT_TRUE(clock.due(t0));  // at once: the first ping
    EXPECT_FALSE(clock.due(t0 + 4999ms));
    EXPECT_TRUE(clock.due(t0 + 5s));
    EXPECT_FALSE(clock.due(t0 + 9s));
    EXPECT_TRUE(clock.due(t0 + 10s));
}

TEST(SdNotify, SendsOneDatagramToTheSocket) {
    const std::string name = "@levqor-sd-notify-test-" + std::to_string(::getpid());
    const auto address = parse_notify_socket(name);
    UniqueFd listener(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.length), 0);

    const auto notifier =
        Notifier::from_environment(env_of({{"NOTIFY_SOCKET", name}, {"WATCHDOG_USEC", "2000000"}}), ::getpid());
    EXPECT_TRUE(notifier.enabled());
    EXPECT_EQ(notifier.watchdog(), 2s);
    ASSERT_TRUE(notifier.notify("READY=1\nSTATUS=serving"));
    char buffer[64] = {};
    const auto n = ::recv(listener.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "READY=1\nSTATUS=serving");
}

TEST(SdNotify, WithoutNotifySocketNothingIsSent) {
    const auto notifier = Notifier::from_environment(env_of({{"WATCHDOG_USEC", "2000000"}}), ::getpid());
    EXPECT_FALSE(notifier.enabled());
    EXPECT_EQ(notifier.watchdog(), std::nullopt);
    EXPECT_TRUE(notifier.notify("READY=1"));
}

TEST(SdNotify, BadVariablesAreNamed) {
    try {
        Notifier::from_environment(env_of({{"NOTIFY_SOCKET", "/run/n"}, {"WATCHDOG_USEC", "soon"}}), ::getpid());
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("WATCHDOG_USEC=\"soon\" is invalid", 0), 0u) << e.what();
    }
}

}  // namespace
}  // namespace levqor::controld
