//! `--format` templates as users write them (any CLI command's flag), over
//! JSON data: the first line is the template, the rest the data. Parsed, run
//! as inspect runs them and as a list's rows, and a table's header drawn;
//! each either works or fails with Go's error, never panics.
#![no_main]
use berth_template::{Context, Fields, Template, MAP};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (src, json) = text.split_once('\n').unwrap_or((text, "{}"));
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let row = Context {
        fields: Fields::Struct("*formatter.ContainerContext"),
        methods: Some(&value),
        header: false,
    };
    if let Ok(t) = Template::parse(src) {
        let _ = t.render(&value, &MAP);
    }
    match Template::parse_list(src) {
        Ok(t) => {
            let _ = t.render(&value, &row);
            let _ = t.header(&|f| f.to_uppercase());
        }
        Err(e) => assert!(e.to_string().starts_with("template: :"), "{e}"),
    }
});
