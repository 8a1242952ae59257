-- wrk script for GET /api/v1/stations/nearest/: every request asks about a different point of the
-- county's bounding box, the same points in the same order on every run (deterministic).
--
--   wrk -t2 -c4 -d20s --latency -s bench/nearest_stations.lua \
--       http://127.0.0.1:8201/api/v1/stations/nearest/ -- MIN_LON MIN_LAT MAX_LON MAX_LAT [LIMIT]
--
-- Points follow a Halton sequence (bases 2 and 3): spread evenly over the box with no clustering and
-- no random seed, unlike math.random. Each wrk thread starts at its own offset of the sequence, so
-- the threads never ask about the same points.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
  table.insert(threads, thread)
end

local function halton(i, base)
  local f, r = 1.0, 0.0
  while i > 0 do
    f = f / base
    r = r + f * (i % base)
    i = math.floor(i / base)
  end
  return r
end

local min_lon, min_lat, max_lon, max_lat, limit, path
local n = 0

function init(args)
  if #args < 4 then
    error("usage: wrk ... -s nearest_stations.lua URL -- MIN_LON MIN_LAT MAX_LON MAX_LAT [LIMIT]")
  end
  min_lon, min_lat = tonumber(args[1]), tonumber(args[2])
  max_lon, max_lat = tonumber(args[3]), tonumber(args[4])
  limit = tonumber(args[5] or "5")
  path = wrk.path
  if path == nil or path == "" or path == "/" then
    path = "/api/v1/stations/nearest/"
  end
  -- 1,000,003 apart: far beyond what one thread sends in a run, so threads never overlap.
  n = ((thread_index or 1) - 1) * 1000003 + 1
end

function request()
  local lon = min_lon + (max_lon - min_lon) * halton(n, 2)
  local lat = min_lat + (max_lat - min_lat) * halton(n, 3)
  n = n + 1
  return wrk.format("GET", string.format("%s?lon=%.6f&lat=%.6f&limit=%d", path, lon, lat, limit))
end

-- No response() hook: defining one makes wrk keep every header and body, which costs throughput.
-- wrk counts non-2xx answers itself ("Non-2xx or 3xx responses"), and the benchmark checks that count.
