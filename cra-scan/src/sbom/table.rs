//! A plain-text report for terminals: the image, its OS, then one package per line.

use std::io::Write;

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
        writeln!(out, "Image:    {name}")?;
    }
    writeln!(out, "Image ID: {}", image.config_digest)?;
    writeln!(out, "Platform: {}", image.platform)?;
    writeln!(out, "Layers:   {}", image.layers.len())?;
    let os = inv.os.as_ref().map_or_else(
        || "unknown".to_owned(),
        |o| {
            o.pretty_name
                .clone()
                .unwrap_or_else(|| format!("{} {}", o.id, o.version_id.as_deref().unwrap_or("")))
        },
    );
    writeln!(out, "OS:       {os}")?;
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
    let name_w = inv
        .packages
        .iter()
        .map(|p| p.name.len())
        .chain([4])
        .max()
        .unwrap_or(4);
    let ver_w = inv
        .packages
        .iter()
        .map(|p| p.version.len())
        .chain([7])
        .max()
        .unwrap_or(7);
    writeln!(out, "{:name_w$}  {:ver_w$}  TYPE  LAYER", "NAME", "VERSION")?;
    for p in &inv.packages {
        writeln!(
            out,
            "{:name_w$}  {:ver_w$}  {:4}  {}",
            p.name,
            p.version,
            p.ecosystem.as_str(),
            p.location.layer_index
        )?;
    }
    for w in &inv.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
