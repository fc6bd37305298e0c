// Package checkfile reads the health checks and gate settings of the
// hotreload daemon from a YAML file (checks.yaml) and keeps a Monitor and a
// Gate in step with it, hot-reloaded through the engine like any config.
//
// Parse turns the file into a File, reporting every problem at once with
// its line and column; Target is the hotreload.Target of the file. Library
// users declare checks in code (health.Monitor.Add) and need none of this.
//
// The format, with every key (durations are Go durations, fractions are
// between 0 and 1):
//
//	gate:                      # optional: the health gate after every reload; an absent
//	                           # key keeps what the daemon set (flags, --mode)
//	  window: 90s              # how long to watch (dev: a few seconds)
//	  rounds: 5                # check runs within the window
//	  max_failing: 0.5         # more than this fraction of checks failing rolls back
//	  max_memory: 0.9          # memory use above this fraction of the limit rolls back
//	  max_latency: 5s          # the app's p95 response time above this rolls back
//	  max_exception_rate: 0.05 # the app's 5xx + exceptions per request above this rolls back
//	  min_samples: 20          # requests needed before latency or exceptions decide
//	  ignore_preexisting: true # leave out checks already failing when the window opens
//	defaults:                  # optional: for every check below
//	  interval: 30s
//	  timeout: 5s
//	  failure_threshold: 1
//	  success_threshold: 1
//	checks:
//	  - name: upstream         # letters, digits, _ . -
//	    kind: http             # http, websocket, sql, memory, cpu or disk
//	    url: http://127.0.0.1:9000/healthz
//	    status: 200            # 0 or absent: any 2xx or 3xx
//	    max_latency: 2s
//	    critical: true
//	    interval: 10s
//	    timeout: 3s
//	    failure_threshold: 3
//	    success_threshold: 2
//	  - {name: db, kind: sql, dsn: "postgres://app@127.0.0.1:5432/app", query: SELECT 1}
//	  - {name: ui, kind: websocket, url: ws://127.0.0.1:9000/ws}
//	  - {name: memory, kind: memory, max: 0.9}
//	  - {name: cpu, kind: cpu, window: 1s, max: 0.95}
//	  - {name: data, kind: disk, path: /var/lib/app, max: 0.9}
//
// The sql kind opens the DSN with the pgx driver (PostgreSQL) and owns the
// pool: it is closed when the check leaves the file.
//
// # Concurrency
//
// Parse is a pure function. The Target is driven by the engine's single
// transaction goroutine, as every Target; the Monitor and Gate it changes
// are safe for concurrent use, so checks keep running and the gate keeps
// reading its options while a new file is applied.
package checkfile
