//! Detach-key specs and the escape proxy (attach and exec input), and
//! legacy link specs (`HostConfig.Links`): user data parsed by berthd.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (spec, input) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = berth_engine::containers::links::parse(spec);
    let Ok(keys) = berth_api::detach::parse(spec) else {
        return;
    };
    // Fed at once or byte by byte, the proxy passes on the same bytes and
    // detaches at the same point.
    let mut whole = berth_api::detach::Escape::new(keys.clone());
    let at_once = whole.feed(input.as_bytes());
    let mut bytes = berth_api::detach::Escape::new(keys);
    let mut out = Vec::new();
    let mut detached = false;
    for b in input.as_bytes() {
        let (o, d) = bytes.feed(std::slice::from_ref(b));
        out.extend(o);
        if d {
            detached = true;
            break;
        }
    }
    assert_eq!(at_once, (out, detached));
});
