//! Training histories and the recorder that any trainer feeds.
