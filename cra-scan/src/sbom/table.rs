//! A plain-text report for terminals: the image, its OS, then one package per line with the
//! layer and path it was found at (a nested jar as `outer.jar!/inner.jar`).
//!
//! Everything that comes from the image (names, versions, the OS name, warnings) is passed through
//! `cra_core::text::escape_untrusted`, so image content cannot move the cursor, recolour the
//! terminal or add lines of its own.

use std::io::Write;

use cra_core::text::escape_untrusted as esc;

use crate::error::ScanError;
use crate::pipeline::ScanReport;

/// Writes the table.
pub(crate) fn render(report: &ScanReport, out: &mut dyn Write) -> Result<(), ScanError> {
    write_table(report, out).map_err(ScanError::Output)
}

fn write_table(report: &ScanReport, out: &mut dyn Write) -> std::io::Result<()> {
    let image = &report.image;
    let inv = &report.inventory;
    if let Some(name) = image.names.first() {
        writeln!(out, "Image:    {}", esc(name))?;
    }
    writeln!(out, "Image ID: {}", image.config_digest)?;
    writeln!(out, "Platform: {}", esc(&image.platform.to_string()))?;
    writeln!(out, "Layers:   {}", image.layers.len())?;
    let os = inv.os.as_ref().map_or_else(
        || "unknown".to_owned(),
        |o| {
            o.pretty_name
                .clone()
                .unwrap_or_else(|| format!("{} {}", o.id, o.version_id.as_deref().unwrap_or("")))
        },
    );
    writeln!(out, "OS:       {}", esc(&os))?;
    if let Some(signature) = &report.signature {
        writeln!(out, "Signature: {}", esc(&signature.summary()))?;
    }
    let counts = super::snyk::counts(&inv.packages);
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    writeln!(
        out,
        "Packages: {}{}",
        inv.packages.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.join(", "))
        }
    )?;
    writeln!(out)?;
    let rows: Vec<(String, String)> = inv
        .packages
        .iter()
        .map(|p| (esc(&p.name).into_owned(), esc(&p.version).into_owned()))
        .collect();
    let name_w = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    let ver_w = rows
        .iter()
        .map(|(_, v)| v.chars().count())
        .chain([7])
        .max()
        .unwrap_or(7);
    writeln!(
        out,
        "{:name_w$}  {:ver_w$}  TYPE  LAYER  PATH",
        "NAME", "VERSION"
    )?;
    for (p, (name, version)) in inv.packages.iter().zip(&rows) {
        writeln!(
            out,
            "{name:name_w$}  {version:ver_w$}  {:4}  {:5}  {}",
            p.ecosystem.as_str(),
            p.location.layer_index,
            esc(&p.location.path)
        )?;
    }
    for w in &inv.warnings {
        writeln!(out, "warning: {}", esc(w))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::shared::tests::report;

    #[test]
    fn image_content_cannot_drive_the_terminal_or_add_lines() {
        let mut report = report();
        report.inventory.packages[0].name = "evil\x1b]0;owned\x07".into();
        report.inventory.packages[0].version = "1.0\r\nforged line".into();
        report.inventory.warnings = vec!["layer 1: bad entry \x1b[2J\nwarning: fake".into()];
        report.inventory.os.as_mut().unwrap().pretty_name = Some("Debian\x1b[31m".into());
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("evil\\x1b]0;owned\\x07"), "{text}");
        assert!(text.contains("1.0\\r\\nforged line"), "{text}");
        assert!(text.contains("OS:       Debian\\x1b[31m\n"), "{text}");
        // One line per package and one per warning, nothing more.
        let lines = text.lines().count();
        assert_eq!(lines, 8 + report.inventory.packages.len() + 1, "{text}");
        assert_eq!(text.matches("warning:").count(), 2, "{text}");
    }
}
