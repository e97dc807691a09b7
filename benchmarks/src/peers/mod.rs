//! Every mechanism the comparison runs.
