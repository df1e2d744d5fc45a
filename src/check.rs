//! check (work in progress)
