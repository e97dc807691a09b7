//! Numbers for people: three significant figures, thousands separated, rates with k and M.

/// How many decimals three significant figures of a number of magnitude `m` need.
fn decimals(m: f64) -> usize {
    if m == 0.0 || m >= 100.0 {
        0
    } else if m >= 10.0 {
        1
    } else if m >= 1.0 {
        2
    } else {
        // 0.973, 0.0451 …
        (2 - m.log10().floor() as i32).clamp(3, 9) as usize
    }
}

/// `x` to three significant figures: `0.973`, `9.12`, `48.2`, `123`, `1,235`.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return "?".to_owned();
    }
    // Round once, then choose the decimals again: rounding may carry into a new digit (9.996
    // is 10.0, not 10.00).
    let first = decimals(x.abs());
    let rounded: f64 = format!("{x:.first$}").parse().unwrap_or(x);
    if rounded.abs() >= 1000.0 {
        return grouped(rounded.round());
    }
    let decimals = decimals(rounded.abs());
    format!("{rounded:.decimals$}")
}

/// An integer-valued `x` with commas between thousands.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// An axis label: three significant figures without trailing zeros (`1`, `10`, `0.5`).
pub fn axis(x: f64) -> String {
    let text = sig3(x);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A rate with a unit prefix: `950`, `12.3 k`, `1.23 M`.
pub fn rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{} M", sig3(x / 1e6))
    } else if x >= 1e3 {
        format!("{} k", sig3(x / 1e3))
    } else {
        sig3(x)
    }
}

/// A ratio: `2.10×`, `0.47×`.
pub fn ratio(x: f64) -> String {
    format!("{x:.2}×")
}

/// A markdown table whose first `labels` columns are left-aligned text and the rest
/// right-aligned figures. Cells may hold anything: pipes are escaped and line breaks flattened.
pub fn table(header: &[String], labels: usize, rows: &[Vec<String>]) -> String {
    let clean = |cell: &str| cell.replace('|', "\\|").replace('\n', " ");
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| clean(c)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(header);
    let rule: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i < labels { "---" } else { "---:" }.to_owned())
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_figures() {
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(0.9731), "0.973");
        assert_eq!(sig3(0.04512), "0.0451");
        assert_eq!(sig3(9.123), "9.12");
        assert_eq!(sig3(48.24), "48.2");
        assert_eq!(sig3(123.4), "123");
        assert_eq!(sig3(1234.6), "1,235");
        assert_eq!(sig3(1_234_567.0), "1,234,567");
        assert_eq!(sig3(-1234.0), "-1,234");
        assert_eq!(sig3(f64::NAN), "?");
    }

    #[test]
    fn rounding_up_to_a_new_digit_keeps_three_figures() {
        assert_eq!(sig3(9.996), "10.0");
        assert_eq!(sig3(99.96), "100");
        assert_eq!(sig3(0.9996), "1.00");
    }

    #[test]
    fn rates_and_ratios() {
        assert_eq!(rate(950.0), "950");
        assert_eq!(rate(12_345.0), "12.3 k");
        assert_eq!(rate(1_234_567.0), "1.23 M");
        assert_eq!(rate(12_300_000.0), "12.3 M");
        assert_eq!(ratio(2.104), "2.10×");
        assert_eq!(axis(10.0), "10");
        assert_eq!(axis(1.0), "1");
        assert_eq!(axis(0.5), "0.5");
        assert_eq!(axis(1000.0), "1,000");
    }
}
