// SPDX-License-Identifier: Apache-2.0
// The unit tests' main: libcurl's global state first, as levqor-controld's
// main() does, before any test starts a thread.
#include <gtest/gtest.h>

#include "levqor/controld/net/http_client.h"

int main(int argc, char** argv) {
    const levqor::controld::net::CurlGlobal curl;
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
