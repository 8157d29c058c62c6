//! HTML views of check results (work in progress).
