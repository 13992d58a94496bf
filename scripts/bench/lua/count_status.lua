-- SPDX-License-Identifier: Apache-2.0
-- wrk script: one API key; counts responses by status and prints
-- "passed=<n> rejected=<n>" when done.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() passed = 0; rejected = 0 end
request = function() return wrk.format("GET", "/t", { ["X-Api-Key"] = "one-key" }) end
response = function(status)
    if status == 200 then passed = passed + 1 else rejected = rejected + 1 end
end
done = function()
    local p, r = 0, 0
    for _, t in ipairs(threads) do p = p + t:get("passed"); r = r + t:get("rejected") end
    io.write(string.format("passed=%d rejected=%d\n", p, r))
end
