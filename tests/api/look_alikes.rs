//! Issue 20, item 5: option names are what they look like. One ordinary account tries every look-alike of
//! the seeded "Volvo" the attack used; none becomes a new option listed to everyone.

use serde_json::{Value, json};

use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app_with};
use crate::prometheus::value_or_zero;

async fn brands(app: &TestApp) -> Vec<Value> {
    let page = json_of(app.get("/v1/options/brand?limit=500").send().await.expect("request"), 200).await;
    page["items"].as_array().expect("items").clone()
}

fn post(app: &TestApp, token: &str, name: &str) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/options/brand", app.http)).bearer_auth(token).json(&json!({ "name": name }))
}

/// Every invisible or formatting character of the attack (zero-width space and joiner, word joiner, soft
/// hyphen, RTL override, LRM, Hangul filler, braille blank, Mongolian vowel separator, tag characters) is
/// refused 422 `invisible_character` naming its code point; the Cyrillic and Greek spellings resolve to the
/// real Volvo (200, same id); 80 × U+FDFD is refused `too_wide`; a new name mixing Latin and Cyrillic is
/// refused `mixed_scripts`. The public list is unchanged, and the refusals are counted.
#[tokio::test]
async fn look_alikes_of_an_option_are_refused_or_resolve_to_it() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true").await;
    app.register("mallory@example.com").await;
    let token = access(&app.login("mallory@example.com").await).to_owned();
    let before = brands(&app).await;
    // The recorder is the process's: this test's refusals are differences.
    let refused = async |reason: &str| {
        value_or_zero(&app.metrics().await, &format!("gantry_option_names_refused_total{{reason=\"{reason}\"}}"))
    };
    let refused_before =
        [refused("invisible_character").await, refused("too_wide").await, refused("mixed_scripts").await];
    let volvo = before.iter().find(|b| b["name"] == "Volvo").expect("the seed has Volvo")["id"].clone();

    let invisible = [
        ("Vol\u{200B}vo", "U+200B"),
        ("Vol\u{200D}vo", "U+200D"),
        ("Vol\u{2060}vo", "U+2060"),
        ("Vol\u{00AD}vo", "U+00AD"),
        ("\u{202E}ovloV", "U+202E"),
        ("\u{200E}Volvo", "U+200E"),
        ("Volvo\u{3164}", "U+3164"),
        ("Volvo\u{2800}", "U+2800"),
        ("Vol\u{180E}vo", "U+180E"),
        ("Volvo\u{E0056}\u{E006F}\u{E006C}", "U+E0056"),
    ];
    for (name, code_point) in invisible {
        let response = post(&app, &token, name).send().await.expect("request");
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "name", "{name:?}: {problem}");
        assert_eq!(problem["errors"][0]["code"], "invisible_character", "{name:?}: {problem}");
        let message = problem["errors"][0]["message"].as_str().expect("message");
        assert!(message.contains(code_point), "{name:?}: the refusal names {code_point}: {message}");
    }

    for name in ["V\u{043E}lvo", "V\u{03BF}lvo"] {
        let response = post(&app, &token, name).send().await.expect("request");
        let existing = json_of(response, 200).await;
        assert_eq!(existing["id"], volvo, "{name:?} is Volvo");
        assert_eq!(existing["name"], "Volvo", "{name:?}: the display stays the real spelling");
    }

    let response = post(&app, &token, &"\u{FDFD}".repeat(80)).send().await.expect("request");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "too_wide", "{problem}");

    let response = post(&app, &token, "V\u{043E}lvo Nova").send().await.expect("request");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "mixed_scripts", "{problem}");

    let after = brands(&app).await;
    assert_eq!(after.len(), before.len(), "no look-alike was listed");
    let refused_after =
        [refused("invisible_character").await, refused("too_wide").await, refused("mixed_scripts").await];
    let counted: Vec<f64> = refused_after.iter().zip(refused_before).map(|(after, before)| after - before).collect();
    assert_eq!(counted, [10.0, 1.0, 1.0], "refusals counted by reason");

    // Names in one script, and Latin with Han, are still welcome.
    let response = post(&app, &token, "Москва Трак").send().await.expect("request");
    assert_eq!(json_of(response, 201).await["name"], "Москва Трак");
    let response = post(&app, &token, "小松 Trucks").send().await.expect("request");
    assert_eq!(json_of(response, 201).await["name"], "小松 Trucks");
}
