//! Human-readable durations as docker prints them ("Up 5 seconds").

use std::time::Duration;

/// Go's `units.HumanDuration`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let mins = secs / 60;
    if mins == 1 {
        return "About a minute".into();
    }
    if mins < 60 {
        return format!("{mins} minutes");
    }
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// Go's `time.ParseDuration` ("1m30s", "500ms", "1ns") in seconds, as docker's flags take them.
pub fn go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'n' if chars.peek() == Some(&'s') => {
                chars.next();
                n / 1e9
            }
            'u' | 'µ' if chars.peek() == Some(&'s') => {
                chars.next();
                n / 1e6
            }
            'h' => n * 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                n / 1000.0
            }
            'm' => n * 60.0,
            's' => n,
            _ => return None,
        };
    }
    num.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("10m"), Some(600.0));
        assert_eq!(go_duration("1h30m"), Some(5400.0));
        assert_eq!(go_duration("500ms"), Some(0.5));
        assert_eq!(go_duration("1ns"), Some(1e-9));
        assert_eq!(go_duration("3us"), Some(3e-6));
        assert_eq!(go_duration("5x"), None);
    }

    #[test]
    fn like_go() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
    }
}

/// Go's `units.HumanSizeWithPrecision`: decimal units, `precision` significant digits.
pub fn human_size(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", significant(v, precision), UNITS[i])
}

/// Go's `units.BytesSize`: binary units, 4 significant digits (`608KiB`).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = size;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", significant(v, 4), UNITS[i])
}

/// `%.Ng`-style formatting for values below 1000: N significant digits, no trailing zeros.
fn significant(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let int_digits = (v.abs().log10().floor() as i64 + 1).max(1) as usize;
    let decimals = digits.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Docker's `RAMInBytes`: `64m`, `1g`, `512k`, `100` (binary units).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    parse_ram(s).ok()
}

/// go-units' `RAMInBytes`, with its errors: a number, an optional space,
/// and a suffix `b`, `k`, `kb`, `kib` … `p` (any case, powers of 1024).
pub fn parse_ram(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..sep + 1], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = || format!("invalid suffix: '{}'", sfx.to_ascii_lowercase());
    let l = sfx.to_ascii_lowercase();
    if l.len() > 3 {
        return Err(bad());
    }
    if l == "b" {
        return Ok(size as i64);
    }
    let shift = match l.as_bytes()[0] {
        b'k' => 10,
        b'm' => 20,
        b'g' => 30,
        b't' => 40,
        b'p' => 50,
        _ => return Err(bad()),
    };
    if (l.len() == 2 && &l[1..] != "b") || (l.len() == 3 && &l[1..] != "ib") {
        return Err(bad());
    }
    Ok((size * (1u64 << shift) as f64) as i64)
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(1920.0, 3), "1.92kB");
        assert_eq!(human_size(1_984_000.0, 4), "1.984MB");
        assert_eq!(human_size(2_000_000.0, 3), "2MB");
        assert_eq!(human_size(999.0, 3), "999B");
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1g"), Some(1 << 30));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("x"), None);
        assert_eq!(ram_in_bytes("1.5 KiB"), Some(1536));
        assert_eq!(parse_ram("1x").unwrap_err(), "invalid suffix: 'x'");
        assert_eq!(parse_ram("1kbb").unwrap_err(), "invalid suffix: 'kbb'");
        assert_eq!(parse_ram("-1m").unwrap_err(), "invalid size: '-1m'");
        assert_eq!(parse_ram("m").unwrap_err(), "invalid size: 'm'");
    }
}
