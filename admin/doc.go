// Package admin is the HTTP face of the hotreload daemon: the admin API of
// DESIGN.md (status, config with ETag and JSON merge patch, reload,
// rollback, history and diffs, Server-Sent Events), bearer-token
// authorisation by role, the Host and Origin checks that stop DNS
// rebinding and cross-site browser requests, and the development extras
// (/debug/pprof, an event trace).
//
// # Authorisation
//
// Every route, built in or mounted by another package (health, plugins,
// the UI channel, the dashboard, /metrics), is registered with the
// permission it needs and reaches its handler only through one choke
// point, Server.authorize: the request's Host and Origin are checked, then
// its token (an Authorization: Bearer header or the hotreload_token cookie
// set by POST /api/v1/session) is looked up in the auth.Store and its role
// compared with the route's. In prod every route but /healthz and /readyz
// needs a token. In dev, with no auth file, a server on a loopback address
// runs open (every request acts as the "anonymous" admin) and logs a
// warning; New refuses to run open anywhere else.
//
// # Concurrency and backpressure
//
// A Server is safe for concurrent use; it holds no lock while a handler
// runs. Mutations are funnelled into the engine's single transaction loop,
// so concurrent PATCH, reload and rollback requests queue there and each
// gets its own answer. The If-Match check of PATCH /api/v1/config runs
// inside the transaction (hotreload.Request.Check), so it cannot race with
// any other change. Each SSE client has its own bounded event queue (see
// package events): a slow client loses the oldest events and is told to
// resynchronise, and never slows the engine or other clients. Close ends
// every stream, so http.Server.Shutdown does not wait for them.
package admin
