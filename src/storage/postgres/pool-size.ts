// Connections per node to PostgreSQL (VAULTGATE_DB_POOL_MAX, 2..200), plus one for the change feed.
//
// Measured on 2026-12-04 (`VAULTGATE_DB_POOL_MAX=N BENCH_SECONDS=5 BENCH_ENGINES=postgres
// BENCH_CASES=get,spread npm run bench`, 16 connections, 2 shared cores): transfers across 32
// accounts 403 / 404 / 398 / 401 req/s and the GET 0.090 / 0.085 / 0.096 / 0.099 of the hello-world
// with 4 / 8 / 20 / 40 connections: no difference. At this load a node is bound by its CPU and by one
// round trip per statement, not by connections. 20 keeps every one of 16 concurrent money
// requests on its own connection through its two transactions (the claim, then the posting) with
// room for the sealers, at a cost PostgreSQL's default max_connections (100) allows for 4 nodes.
export const DEFAULT_POOL_MAX = 20;
