-- wrk_json.lua - print wrk's summary as one JSON line (exact byte counts and
-- latency percentiles in microseconds) for bench/bench.py to parse.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'WRKJSON {"requests": %d, "bytes": %d, "duration_us": %d, ' ..
		'"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
		'"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
		summary.requests, summary.bytes, summary.duration,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50.0), latency:percentile(99.0), latency.mean))
end
