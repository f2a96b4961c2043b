//! Container names: validation as dockerd does it, and generated
//! `adjective_scientist` names for containers created without one.

use crate::Error;
use rand::seq::IndexedRandom;

const LEFT: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "festive",
    "gifted",
    "happy",
    "inspiring",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
    "bold",
    "calm",
    "eloquent",
    "friendly",
    "gallant",
];
const RIGHT: &[&str] = &[
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "euclid",
    "fermat",
    "galileo",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
    "yonath",
    "zhukovsky",
    "bohr",
    "dijkstra",
    "easley",
    "feynman",
    "goldberg",
    "hamilton",
    "knuth",
];

/// A random `adjective_scientist` name. After a few collisions (`attempt` > 2)
/// a number is appended, as dockerd does, with more digits as attempts grow, so
/// a host with more containers than plain names still gets a free one.
pub fn generate(attempt: u32) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let base = format!(
        "{}_{}",
        LEFT.choose(&mut rng).unwrap_or(&"brave"),
        RIGHT.choose(&mut rng).unwrap_or(&"turing")
    );
    if attempt < 3 {
        return base;
    }
    let digits = (attempt / 3).min(9);
    format!("{base}{}", rng.random_range(0..10u64.pow(digits)))
}

/// Tries this many generated names before giving up: by the 27th attempt a
/// name carries 9 random digits, so running out means something else is wrong.
const ATTEMPTS: u32 = 64;

/// A generated name (with its leading slash) that `taken` says is free, or
/// the error of asking; `None` when every attempt was taken.
pub fn free<E>(mut taken: impl FnMut(&str) -> Result<bool, E>) -> Result<Option<String>, E> {
    for attempt in 0..ATTEMPTS {
        let name = format!("/{}", generate(attempt));
        if !taken(&name)? {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Returns the name with its leading slash, as stored and inspected.
pub fn validate(name: &str) -> Result<String, Error> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let ok = bare.len() >= 2
        && bare.as_bytes()[0].is_ascii_alphanumeric()
        && bare
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !ok {
        return Err(Error::bad_request(format!(
            "Invalid container name ({bare}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(format!("/{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_never_run_out() {
        // More containers than plain names: suffixes keep every name free,
        // each found within the attempts (a failure here, never a hang).
        let mut taken = std::collections::HashSet::new();
        for i in 0..(LEFT.len() * RIGHT.len() + 500) {
            let name = free(|n| Ok::<_, ()>(taken.contains(n)))
                .unwrap()
                .unwrap_or_else(|| panic!("no free name for container {i}"));
            validate(&name).unwrap();
            assert!(taken.insert(name), "a taken name was offered");
        }
        // Every name taken: the attempts end, with no name.
        assert_eq!(free(|_| Ok::<_, ()>(true)), Ok(None));
        assert_eq!(free(|_| Err::<bool, _>("db down")), Err("db down"));
    }

    #[test]
    fn names() {
        assert_eq!(validate("web").unwrap(), "/web");
        assert_eq!(validate("/web-1.a_b").unwrap(), "/web-1.a_b");
        for bad in ["", "a", "-x", "a b", "a/b", "ü1"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert!(validate(&generate(0)).is_ok());
    }
}
