-- SPDX-License-Identifier: Apache-2.0
-- wrk script for `make soak` (scripts/soak/soak.pl): each connection sends
-- the requests below in turn, one every SOAK_DELAY_MS milliseconds, so the
-- rate is bounded (connections x 1000 / SOAK_DELAY_MS per second).
-- Signed GitHub deliveries come from SOAK_DELIVERIES, a file of
-- "body<TAB>signature" lines with distinct bodies (wrk's Lua cannot compute
-- an HMAC); thread k of SOAK_THREADS uses lines k, k+SOAK_THREADS, ..., so
-- the replay zone sees each delivery once, except where a request repeats
-- the previous one on purpose.
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "20")
local stride = tonumber(os.getenv("SOAK_THREADS") or "1")
local deliveries = {}
for line in io.lines(os.getenv("SOAK_DELIVERIES")) do
  local body, sig = line:match("^(.-)\t(.*)$")
  deliveries[#deliveries + 1] = { body = body, sig = sig }
end
local n = 0
local next_delivery = 0
local last = { id = "none", delivery = deliveries[1] }

local function get(path, headers)
  return wrk.format("GET", path, headers)
end

local function hook(path, id, delivery, sig)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = id,
    ["X-Hub-Signature-256"] = sig or delivery.sig,
  }, delivery.body)
end

-- This thread's next delivery (they repeat once all are used).
local function fresh()
  local i = (next_delivery * stride + thread_index - 1) % #deliveries + 1
  next_delivery = next_delivery + 1
  return deliveries[i]
end

-- Runs in wrk's main state for each thread: a tag for its delivery ids
-- (a global of the thread's own state).
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_tag", "t" .. threads .. "-" .. os.time())
  thread:set("thread_index", threads)
end

-- One entry per kind of request: a function of the request number.
local kinds = {
  function() return get("/h") end,
  function() return get("/h", { Connection = "close" }) end,
  function(i) return get("/local", { ["X-Api-Key"] = "k" .. (i % 16) }) end,
  function() return get("/local", { ["X-Api-Key"] = "hot" }) end,
  function(i) return get("/redis", { ["X-Api-Key"] = "k" .. (i % 16) }) end,
  function() return get("/redis", { ["X-Api-Key"] = "hot" }) end,
  function() return get("/redis", { ["X-Api-Key"] = "hot", Connection = "close" }) end,
  function(i)
    last = { id = thread_tag .. "-" .. i, delivery = fresh() }
    return hook("/hooks/github", last.id, last.delivery)
  end,
  function() return hook("/hooks/github", last.id, last.delivery) end,  -- a replay: refused
  function(i) return hook("/hooks/github-open", "open-" .. i, deliveries[i % #deliveries + 1]) end,
  function(i)
    return hook("/hooks/github-open", "bad-" .. i, deliveries[1], "sha256=" .. string.rep("0", 64))
  end,
  function() return get("/levqor/status") end,
}

request = function()
  n = n + 1
  return kinds[(n - 1) % #kinds + 1](n)
end

delay = function()
  return delay_ms
end
