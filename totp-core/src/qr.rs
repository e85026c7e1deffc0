//! QR codes for Key URIs, as SVG (web pages), PNG and Unicode text
//! (terminals).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// Modules of light margin around the symbol, as ISO/IEC 18004 requires.
const QUIET_ZONE: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in any QR code version. The source is the QR
    /// encoder's own error.
    #[error("the text is too long for a QR code")]
    TooLong(#[source] Box<dyn core::error::Error + Send + Sync>),
    /// The PNG encoder failed. The source is the PNG encoder's own error.
    #[error("the PNG encoder failed")]
    Png(#[source] Box<dyn core::error::Error + Send + Sync>),
}

impl QrError {
    fn png(e: png::EncodingError) -> Self {
        Self::Png(Box::new(e))
    }
}

/// A QR code holding one text, usually a Key URI.
///
/// # Security
///
/// A QR code of a Key URI contains the secret. Every rendering is as
/// sensitive as the URI: show it only to its owner, during enrollment.
///
/// ```
/// use totp_core::Qr;
///
/// let qr = Qr::new("otpauth://totp/Lumen:ada?secret=JBSWY3DPEHPK3PXP&issuer=Lumen")?;
/// assert!(qr.to_svg().starts_with("<svg"));
/// assert!(qr.to_png(4)?.starts_with(b"\x89PNG"));
/// println!("{}", qr.to_unicode());
/// # Ok::<(), totp_core::QrError>(())
/// ```
pub struct Qr {
    code: QrCode,
}

impl core::fmt::Debug for Qr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Qr({0}x{0} modules, contents redacted)",
            self.code.width()
        )
    }
}

impl Qr {
    /// Encodes `text` with error correction level M (15% of the symbol can
    /// be damaged), the usual choice for on-screen codes.
    ///
    /// # Errors
    ///
    /// [`QrError::TooLong`] if the text does not fit in a QR code.
    pub fn new(text: &str) -> Result<Self, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| QrError::TooLong(Box::new(e)))?;
        Ok(Self { code })
    }

    /// The width of the symbol in modules, without the quiet zone.
    #[must_use]
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// An SVG document to put inline in a web page: black modules on an
    /// explicit white background, with a 4-module quiet zone, so scanners read
    /// it on dark themes too. It scales with CSS (it has a `viewBox`).
    #[must_use]
    pub fn to_svg(&self) -> String {
        let svg = self
            .code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .module_dimensions(8, 8)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build();
        // Drop the XML declaration so the SVG can be inlined in HTML.
        match svg.find("<svg") {
            Some(start) => svg.get(start..).map_or(svg.clone(), String::from),
            None => svg,
        }
    }

    /// A grayscale PNG with `scale` pixels per module (at least 1) and a
    /// 4-module quiet zone.
    ///
    /// # Errors
    ///
    /// [`QrError::Png`] if the encoder fails.
    pub fn to_png(&self, scale: u32) -> Result<Vec<u8>, QrError> {
        let scale = usize::try_from(scale.max(1)).unwrap_or(1);
        let modules = self.code.width();
        let side = modules.saturating_add(2 * QUIET_ZONE).saturating_mul(scale);
        let colors = self.code.to_colors();
        let mut pixels = Vec::with_capacity(side.saturating_mul(side));
        for y in 0..side {
            let my = (y / scale).checked_sub(QUIET_ZONE);
            for x in 0..side {
                let mx = (x / scale).checked_sub(QUIET_ZONE);
                let dark = match (mx, my) {
                    (Some(mx), Some(my)) if mx < modules && my < modules => colors
                        .get(my * modules + mx)
                        .is_some_and(|c| *c == qrcode::Color::Dark),
                    _ => false,
                };
                pixels.push(if dark { 0u8 } else { 255u8 });
            }
        }
        let side =
            u32::try_from(side).map_err(|_| QrError::png(png::EncodingError::LimitsExceeded))?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(QrError::png)?;
        writer.write_image_data(&pixels).map_err(QrError::png)?;
        writer.finish().map_err(QrError::png)?;
        Ok(out)
    }

    /// The code as Unicode half-block characters, two modules per character
    /// row, for terminals. Light modules are drawn, so it reads correctly on
    /// the usual dark terminal background.
    #[must_use]
    pub fn to_unicode(&self) -> String {
        self.code
            .render::<unicode::Dense1x2>()
            .quiet_zone(true)
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .build()
    }
}
