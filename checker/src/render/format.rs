//! Small number formats shared by the timeline and the plots.

/// A duration or instant in ns with a unit that keeps it short: `850 ns`, `12.5 µs`, `3.25 ms`, `1.5 s`.
pub fn format_ns(ns: u64) -> String {
    let value = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{} µs", trim(value / 1e3))
    } else if ns < 1_000_000_000 {
        format!("{} ms", trim(value / 1e6))
    } else {
        format!("{} s", trim(value / 1e9))
    }
}

/// At most three significant decimals, trailing zeros dropped.
fn trim(value: f64) -> String {
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::format_ns;

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_ns(850), "850 ns");
        assert_eq!(format_ns(12_500), "12.5 µs");
        assert_eq!(format_ns(3_250_000), "3.25 ms");
        assert_eq!(format_ns(1_500_000_000), "1.5 s");
        assert_eq!(format_ns(120_000_000_000), "120 s");
    }
}
