//! Linearizability checker: history format, models, search. (Being built.)
