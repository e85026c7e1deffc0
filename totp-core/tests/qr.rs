//! QR codes decode back to the URI: the PNG directly, and the SVG after
//! rasterising it with rsvg-convert, both read by zbarimg (ZBar).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use totp_core::{KeyUri, Qr, Secret, TotpConfig};

fn zbarimg(path: &std::path::Path) -> String {
    common::stdout_of(
        Command::new("zbarimg")
            .args(["--raw", "--quiet", "-Sdisable", "-Sqrcode.enable"])
            .arg(path),
    )
    .trim_end()
    .to_string()
}

fn uris() -> Vec<String> {
    let config = TotpConfig::default();
    vec![
        KeyUri::totp(
            &Secret::generate().unwrap(),
            Some("Lumen Master Account"),
            "ada@example.com",
            &config,
        )
        .unwrap()
        .expose_uri()
        .to_string(),
        // A long one: 64-byte secret, issuer with a colon and non-ASCII text.
        KeyUri::totp(
            &Secret::generate_with_len(64).unwrap(),
            Some("Société Générale: Paris"),
            "very.long.account.name+mfa@subdomain.example.co.uk",
            &config,
        )
        .unwrap()
        .expose_uri()
        .to_string(),
    ]
}

#[test]
fn png_decodes_to_the_uri() {
    if !common::require("zbarimg", &["--version"], "apt-get install zbar-tools") {
        return;
    }
    let dir = common::scratch("qr-png");
    for (i, uri) in uris().iter().enumerate() {
        let qr = Qr::new(uri).unwrap();
        for scale in [3, 8] {
            let path = dir.join(format!("{i}-{scale}.png"));
            std::fs::write(&path, qr.to_png(scale).unwrap()).unwrap();
            assert_eq!(&zbarimg(&path), uri);
        }
    }
}

#[test]
fn svg_decodes_to_the_uri() {
    if !common::require("zbarimg", &["--version"], "apt-get install zbar-tools")
        || !common::require(
            "rsvg-convert",
            &["--version"],
            "apt-get install librsvg2-bin",
        )
    {
        return;
    }
    let dir = common::scratch("qr-svg");
    for (i, uri) in uris().iter().enumerate() {
        let svg = Qr::new(uri).unwrap().to_svg();
        assert!(svg.starts_with("<svg"), "inlinable in HTML");
        assert!(
            svg.contains(r##"fill="#ffffff""##),
            "explicit white background"
        );
        let svg_path = dir.join(format!("{i}.svg"));
        let png_path = dir.join(format!("{i}.png"));
        std::fs::write(&svg_path, &svg).unwrap();
        let status = Command::new("rsvg-convert")
            .arg("-o")
            .arg(&png_path)
            .arg(&svg_path)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(&zbarimg(&png_path), uri);
    }
}

#[test]
fn unicode_has_one_line_per_two_module_rows() {
    let uri = &uris()[0];
    let qr = Qr::new(uri).unwrap();
    let text = qr.to_unicode();
    let side = qr.width() + 8;
    assert_eq!(text.lines().count(), side.div_ceil(2));
    assert!(text.lines().all(|l| l.chars().count() == side));
}

/// Paints the terminal rendering back into pixels (each character is two
/// modules stacked; drawn halves are light, as on a dark terminal) and scans
/// it like a phone pointed at the screen would.
#[test]
fn unicode_decodes_to_the_uri() {
    if !common::require("zbarimg", &["--version"], "apt-get install zbar-tools") {
        return;
    }
    let dir = common::scratch("qr-unicode");
    let uri = &uris()[0];
    let text = Qr::new(uri).unwrap().to_unicode();
    let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let (width, height) = (rows[0].len(), rows.len() * 2);
    let scale = 4;
    let mut pixels = vec![0u8; width * height * scale * scale];
    for (y, row) in rows.iter().enumerate() {
        for (x, ch) in row.iter().enumerate() {
            let (top, bottom) = match ch {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?}"),
            };
            for (half, light) in [(0, top), (1, bottom)] {
                for dy in 0..scale {
                    for dx in 0..scale {
                        let py = (y * 2 + half) * scale + dy;
                        let px = x * scale + dx;
                        pixels[py * width * scale + px] = if light { 255 } else { 0 };
                    }
                }
            }
        }
    }
    let path = dir.join("terminal.png");
    let file = std::fs::File::create(&path).unwrap();
    let mut encoder = png::Encoder::new(
        file,
        u32::try_from(width * scale).unwrap(),
        u32::try_from(height * scale).unwrap(),
    );
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    assert_eq!(&zbarimg(&path), uri);
}

#[test]
fn too_long_for_a_qr_code() {
    assert!(Qr::new(&"x".repeat(4000)).is_err());
}
