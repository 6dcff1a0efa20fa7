//! Version ordering against an independent implementation: PyPI's `univers`, fed generated pairs
//! through `tests/scripts/univers_compare.py`. Skips with a message when univers is not installed
//! (CI installs it in `.ci/install-vulns.sh`).
//!
//! Two known differences are kept out of the generated pairs, where cra follows the ecosystem's
//! own tool and univers does not: Maven 3.9 reads the qualifier `release` as the release itself
//! (like `ga` and `final`), and univers' Composer versions compare four-part versions by their
//! first three parts only (`0.100.1.1` neither below nor above `0.100.1.11`), so Composer is
//! checked by its corpus alone.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use cra_scan::vulns::version::Scheme;

/// Pairs per scheme.
const PAIRS: usize = 400;

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn num(rng: &mut fastrand::Rng) -> u32 {
    // Mostly small numbers, so that equal and adjacent components are common.
    if rng.u8(..8) == 0 {
        rng.u32(10..120)
    } else {
        rng.u32(0..4)
    }
}

fn dotted(rng: &mut fastrand::Rng, min: usize, max: usize) -> String {
    let n = rng.usize(min..=max);
    (0..n)
        .map(|_| num(rng).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn generate(scheme: Scheme, rng: &mut fastrand::Rng) -> String {
    match scheme {
        Scheme::Dpkg => {
            let epoch = if rng.u8(..6) == 0 {
                format!("{}:", rng.u8(1..3))
            } else {
                String::new()
            };
            let upstream = format!(
                "{}{}",
                dotted(rng, 1, 3),
                pick(
                    rng,
                    &["", "", "~rc1", "~beta2", "+dfsg", "a", "+really1.0", "~~"]
                )
            );
            let revision = pick(
                rng,
                &[
                    "",
                    "-1",
                    "-2",
                    "-1+deb12u1",
                    "-1~deb12u2",
                    "-1+b1",
                    "-0.1",
                    "-10",
                ],
            );
            format!("{epoch}{upstream}{revision}")
        }
        Scheme::Rpm => {
            let epoch = if rng.u8(..6) == 0 {
                format!("{}:", rng.u8(1..3))
            } else {
                String::new()
            };
            format!(
                "{epoch}{}{}-{}{}",
                dotted(rng, 1, 3),
                pick(rng, &["", "", "~rc1", "^git1", "a", "p1"]),
                num(rng),
                pick(rng, &["", ".el9", ".el9_2", ".el8", ".fc39"])
            )
        }
        Scheme::Apk => format!(
            "{}{}{}-r{}",
            dotted(rng, 1, 3),
            pick(rng, &["", "", "", "a", "b"]),
            pick(
                rng,
                &[
                    "",
                    "",
                    "_alpha",
                    "_beta1",
                    "_pre2",
                    "_rc1",
                    "_p1",
                    "_p",
                    "_git20230101"
                ]
            ),
            num(rng)
        ),
        Scheme::Pep440 => format!(
            "{}{}{}{}",
            dotted(rng, 1, 3),
            pick(rng, &["", "", "a1", "b2", "rc1", "a0"]),
            pick(rng, &["", "", ".post1", ".post0"]),
            pick(rng, &["", "", ".dev0", ".dev3"])
        ),
        Scheme::Semver => format!(
            "{}.{}.{}{}",
            num(rng),
            num(rng),
            num(rng),
            pick(
                rng,
                &[
                    "",
                    "",
                    "-alpha",
                    "-alpha.1",
                    "-beta.2",
                    "-rc.1",
                    "-0",
                    "-1",
                    "-alpha.beta"
                ]
            )
        ),
        Scheme::Go => format!(
            "v{}.{}.{}{}",
            num(rng),
            num(rng),
            num(rng),
            pick(
                rng,
                &["", "", "-pre", "-rc.1", "-0.20191109021931-daa7c04131f5"]
            )
        ),
        Scheme::Maven => format!(
            "{}{}",
            dotted(rng, 1, 4),
            pick(
                rng,
                &[
                    "",
                    "",
                    "-SNAPSHOT",
                    "-alpha1",
                    "-beta-2",
                    "-sp1",
                    ".Final",
                    "-rc1",
                    "-M1",
                    "-1"
                ]
            )
        ),
        Scheme::RubyGems => format!(
            "{}{}",
            dotted(rng, 1, 4),
            pick(rng, &["", "", ".pre", ".rc1", ".a", ".beta2", ".pre.1"])
        ),
        Scheme::Composer => format!(
            "{}{}",
            dotted(rng, 1, 4),
            pick(
                rng,
                &["", "", "-beta1", "-RC2", "-alpha", "-dev", "-patch1", "-beta"]
            )
        ),
        Scheme::NuGet => format!(
            "{}{}",
            dotted(rng, 2, 4),
            pick(
                rng,
                &["", "", "-alpha", "-beta.1", "-rc.2", "-beta.10", "-Beta"]
            )
        ),
    }
}

fn univers_available() -> bool {
    Command::new("python3")
        .args(["-c", "import univers"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn orderings_agree_with_univers() {
    if !univers_available() {
        eprintln!("skipping: python3 with univers is not installed (pip install univers)");
        return;
    }
    let schemes = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Pep440,
        Scheme::Semver,
        Scheme::Go,
        Scheme::Maven,
        Scheme::RubyGems,
        Scheme::NuGet,
    ];
    let mut rng = fastrand::Rng::with_seed(0x5eed_0016);
    let mut pairs = Vec::new();
    for scheme in schemes {
        for _ in 0..PAIRS {
            let a = generate(scheme, &mut rng);
            let b = if rng.bool() {
                generate(scheme, &mut rng)
            } else {
                a.clone() + pick(&mut rng, &["", ".0", "1", "-1"])
            };
            pairs.push((scheme, a, b));
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/univers_compare.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = pairs
        .iter()
        .map(|(s, a, b)| format!("{}\t{a}\t{b}\n", s.name()))
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success());
    let answers: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), pairs.len());

    let mut compared = std::collections::BTreeMap::<&str, usize>::new();
    let mut disagreements = Vec::new();
    for ((scheme, a, b), theirs) in pairs.iter().zip(&answers) {
        let Ok(ours) = scheme.compare(a, b) else {
            continue;
        };
        let theirs = match theirs.as_str() {
            "<" => std::cmp::Ordering::Less,
            "=" => std::cmp::Ordering::Equal,
            ">" => std::cmp::Ordering::Greater,
            _ => continue,
        };
        *compared.entry(scheme.name()).or_default() += 1;
        if ours != theirs {
            disagreements.push(format!(
                "{scheme}: {a} vs {b}: ours {ours:?}, univers {theirs:?}"
            ));
        }
    }
    eprintln!("compared with univers: {compared:?}");
    for scheme in schemes {
        assert!(
            compared.get(scheme.name()).copied().unwrap_or(0) >= PAIRS / 2,
            "too few {scheme} pairs compared: {compared:?}"
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
