//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): internal, with no
//! stability promise.
//!
//! The client's reply routing and the server's splitting and answering of requests, reached
//! without a loop or a socket: each entry point calls the code the drivers run, with the
//! socket left out.

pub use crate::client::fuzzing::Routing;
pub use crate::server::fuzzing::{front, Answerer, Front};
