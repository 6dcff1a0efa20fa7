//! `cra scan`'s outputs: which formats go where.
//!
//! `-f/--format FORMAT[=FILE]` may be repeated, as syft's `-o` may: each names a format and,
//! optionally, the file it goes to.
//! `-o/--output FILE` (trivy's meaning) is the file of the one format given without a file;
//! a syft user's `-o FORMAT[=FILE]` is read as a format, so `-o cyclonedx-json` never
//! writes a file named `cyclonedx-json`.
//! At most one output goes to stdout; with no format at all, a table does.
//!
//! Format names accept the usual syft and trivy spellings (see [`parse_format`]); the names
//! of formats cra does not produce are refused with the list of those it does.

use std::path::PathBuf;

use cra_scan::sbom::Format;

/// The names of each produced format, the canonical one first.
const NAMES: [(Format, &[&str]); 5] = [
    (Format::Table, &["table", "syft-table"]),
    (Format::Json, &["json", "snyk", "snyk-json"]),
    (
        Format::CycloneDx,
        &["cyclonedx", "cyclonedx-json", "cdx", "cdx-json"],
    ),
    (Format::Spdx, &["spdx", "spdx-json"]),
    (Format::Sarif, &["sarif"]),
];

/// Formats syft or trivy write and cra does not.
const NOT_PRODUCED: [&str; 11] = [
    "syft-json",
    "syft-text",
    "text",
    "cyclonedx-xml",
    "cdx-xml",
    "spdx-tag-value",
    "spdx-tv",
    "github",
    "github-json",
    "template",
    "purls",
];

const PRODUCED: &str =
    "table, json (the snyk scan result), cyclonedx-json, spdx-json, sarif (with --vulns)";

/// Why the outputs asked for cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The name is no format at all.
    #[error("unknown format {0:?}; the formats are {PRODUCED}")]
    UnknownFormat(String),
    /// A format other tools write and cra does not.
    #[error("cra does not produce {0}; the formats are {PRODUCED}")]
    NotProduced(String),
    /// `FORMAT=` without a file.
    #[error("{0:?} names no file after '='")]
    EmptyFile(String),
    /// `-o` got a word that is neither a format nor recognisable as a file.
    #[error("-o {0:?} is neither a format nor a file path; write ./{0} for a file of that name")]
    NeitherFormatNorFile(String),
    /// Several formats without a file, and one `-o FILE`.
    #[error("-o {0} cannot take several formats; give each its file as --format FORMAT=FILE")]
    FileForSeveralFormats(String),
    /// More than one output left for stdout.
    #[error("only one format can go to stdout; give the others a file as --format FORMAT=FILE")]
    SeveralOnStdout,
    /// Two outputs to the same file.
    #[error("two formats would be written to {0}")]
    SameFile(String),
    /// A format that only lists vulnerability findings, without `--vulns`.
    #[error("{0} lists vulnerability findings: add --vulns")]
    NeedsVulns(String),
}

/// One output: a format and its file (`None` for stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The format.
    pub format: Format,
    /// The file, or `None` for stdout.
    pub file: Option<PathBuf>,
}

/// What `-o` said: a format (syft's meaning) or a file (trivy's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputArg {
    /// `-o FORMAT[=FILE]`.
    Format(Output),
    /// `-o FILE`.
    File(PathBuf),
}

/// Parses a format name in any of its spellings.
pub fn parse_format(name: &str) -> Result<Format, OutputError> {
    let lower = name.to_ascii_lowercase();
    if let Some((format, _)) = NAMES.iter().find(|(_, n)| n.contains(&lower.as_str())) {
        return Ok(*format);
    }
    if NOT_PRODUCED.contains(&lower.as_str()) {
        return Err(OutputError::NotProduced(lower));
    }
    Err(OutputError::UnknownFormat(name.to_owned()))
}

/// Parses `FORMAT[=FILE]` (the value of `--format`).
pub fn parse_output(spec: &str) -> Result<Output, OutputError> {
    let (name, file) = match spec.split_once('=') {
        Some((_, "")) => return Err(OutputError::EmptyFile(spec.to_owned())),
        Some((name, file)) => (name, Some(PathBuf::from(file))),
        None => (spec, None),
    };
    Ok(Output {
        format: parse_format(name)?,
        file,
    })
}

/// Parses the value of `-o`: a format spec when it reads as one, else a file.
pub fn parse_output_arg(value: &str) -> Result<OutputArg, OutputError> {
    let name = value.split_once('=').map_or(value, |(name, _)| name);
    let path_like = name.contains(['/', '.', '\\']) || name.is_empty();
    if path_like {
        return Ok(OutputArg::File(PathBuf::from(value)));
    }
    match parse_output(value) {
        Ok(output) => Ok(OutputArg::Format(output)),
        Err(OutputError::UnknownFormat(_)) if !value.contains('=') => {
            Err(OutputError::NeitherFormatNorFile(value.to_owned()))
        }
        Err(e) => Err(e),
    }
}

/// The outputs of one scan, from the `--format` values and `-o`.
pub fn plan(formats: &[Output], output: Option<&OutputArg>) -> Result<Vec<Output>, OutputError> {
    let mut outputs = formats.to_vec();
    match output {
        Some(OutputArg::Format(o)) => outputs.push(o.clone()),
        Some(OutputArg::File(file)) => {
            let without_file = outputs.iter().filter(|o| o.file.is_none()).count();
            if without_file > 1 {
                return Err(OutputError::FileForSeveralFormats(
                    file.display().to_string(),
                ));
            }
            match outputs.iter().position(|o| o.file.is_none()) {
                Some(only) => outputs[only].file = Some(file.clone()),
                None if outputs.is_empty() => outputs.push(Output {
                    format: Format::Table,
                    file: Some(file.clone()),
                }),
                // Every format has its file already; `-o` names one too many.
                None => {
                    return Err(OutputError::FileForSeveralFormats(
                        file.display().to_string(),
                    ))
                }
            }
        }
        None => {}
    }
    if outputs.is_empty() {
        outputs.push(Output {
            format: Format::Table,
            file: None,
        });
    }
    if outputs.iter().filter(|o| o.file.is_none()).count() > 1 {
        return Err(OutputError::SeveralOnStdout);
    }
    let mut files: Vec<&PathBuf> = outputs.iter().filter_map(|o| o.file.as_ref()).collect();
    files.sort();
    if let Some(pair) = files.windows(2).find(|w| w[0] == w[1]) {
        return Err(OutputError::SameFile(pair[0].display().to_string()));
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(format: Format, file: Option<&str>) -> Output {
        Output {
            format,
            file: file.map(PathBuf::from),
        }
    }

    #[test]
    fn syft_and_trivy_spellings() {
        for (name, format) in [
            ("cyclonedx-json", Format::CycloneDx),
            ("CycloneDX", Format::CycloneDx),
            ("cdx", Format::CycloneDx),
            ("spdx-json", Format::Spdx),
            ("spdx", Format::Spdx),
            ("json", Format::Json),
            ("table", Format::Table),
            ("syft-table", Format::Table),
            ("SARIF", Format::Sarif),
        ] {
            assert_eq!(parse_format(name), Ok(format), "{name}");
        }
    }

    #[test]
    fn other_tools_formats_are_named_as_not_produced() {
        let err = parse_format("syft-json").unwrap_err();
        assert_eq!(err, OutputError::NotProduced("syft-json".into()));
        assert!(err.to_string().contains("cyclonedx-json"), "{err}");
        assert_eq!(
            parse_format("xml"),
            Err(OutputError::UnknownFormat("xml".into()))
        );
    }

    #[test]
    fn format_with_file() {
        assert_eq!(
            parse_output("cyclonedx-json=sbom.cdx.json"),
            Ok(out(Format::CycloneDx, Some("sbom.cdx.json")))
        );
        assert_eq!(
            parse_output("spdx=a=b.json"),
            Ok(out(Format::Spdx, Some("a=b.json")))
        );
        assert!(matches!(
            parse_output("spdx="),
            Err(OutputError::EmptyFile(_))
        ));
        assert!(matches!(
            parse_output("bogus=x.json"),
            Err(OutputError::UnknownFormat(_))
        ));
    }

    #[test]
    fn dash_o_is_a_format_when_it_reads_as_one() {
        assert_eq!(
            parse_output_arg("cyclonedx-json"),
            Ok(OutputArg::Format(out(Format::CycloneDx, None)))
        );
        assert_eq!(
            parse_output_arg("spdx-json=out.spdx"),
            Ok(OutputArg::Format(out(Format::Spdx, Some("out.spdx"))))
        );
        assert_eq!(
            parse_output_arg("report.json"),
            Ok(OutputArg::File("report.json".into()))
        );
        assert_eq!(
            parse_output_arg("./table"),
            Ok(OutputArg::File("./table".into()))
        );
        assert!(matches!(
            parse_output_arg("syft-json"),
            Err(OutputError::NotProduced(_))
        ));
        assert!(matches!(
            parse_output_arg("cyclonedx-jsn"),
            Err(OutputError::NeitherFormatNorFile(_))
        ));
        assert!(matches!(
            parse_output_arg("nope=x.json"),
            Err(OutputError::UnknownFormat(_))
        ));
    }

    #[test]
    fn plans() {
        assert_eq!(plan(&[], None), Ok(vec![out(Format::Table, None)]));
        let file = OutputArg::File("r.json".into());
        assert_eq!(
            plan(&[], Some(&file)),
            Ok(vec![out(Format::Table, Some("r.json"))])
        );
        assert_eq!(
            plan(&[out(Format::Json, None)], Some(&file)),
            Ok(vec![out(Format::Json, Some("r.json"))])
        );
        let several = [
            out(Format::CycloneDx, Some("sbom.cdx.json")),
            out(Format::Table, None),
        ];
        assert_eq!(plan(&several, None), Ok(several.to_vec()));
        assert_eq!(
            plan(&[out(Format::Json, None), out(Format::Table, None)], None),
            Err(OutputError::SeveralOnStdout)
        );
        assert!(matches!(
            plan(
                &[out(Format::Json, None), out(Format::Table, None)],
                Some(&file)
            ),
            Err(OutputError::FileForSeveralFormats(_))
        ));
        assert!(matches!(
            plan(
                &[out(Format::Json, Some("x")), out(Format::Spdx, Some("x"))],
                None
            ),
            Err(OutputError::SameFile(_))
        ));
    }
}
