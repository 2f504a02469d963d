//! Testing a candidate binary (upstream's phase 1 and phase 2). To be written.
