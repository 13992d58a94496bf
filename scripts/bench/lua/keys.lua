-- SPDX-License-Identifier: Apache-2.0
-- wrk script: every request carries one of 10,000 distinct API keys.
local keys = 10000
local n = 0
request = function()
    n = n + 1
    return wrk.format("GET", "/t", { ["X-Api-Key"] = "key-" .. (n % keys) })
end
