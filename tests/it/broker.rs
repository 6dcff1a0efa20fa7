//! The broker relay end to end on loopback: the cra pair, the stock server with `cra client`,
//! and `cra server` with the stock client, each against a stub agent and a stub upstream.

mod client_contract;
mod cra_pair;
mod scenario;
mod secrets;
mod stock_client;
mod stock_server;
mod tls_proxy;
