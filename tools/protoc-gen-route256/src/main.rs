//! `protoc-gen-route256`: the buf plugin that writes `crates/proto/src/gen`.
//!
//! No published plugin emits prost-validate's derives, so this one does the whole Rust side in one pass:
//! prost-build generates the messages, prost-validate-build annotates them with
//! `#[derive(::prost_validate::Validator)]` and the field rules read from the `(validate.rules)` options,
//! and tonic-prost-build generates clients and servers. Services use `crate::codec::ValidatingCodec`, so
//! every request is validated while it is decoded, before any handler runs.
//!
//! Each package's file ends with a `limits` module: the numbers and strings of its validation rules as
//! constants ([`limits`]), which the domain types read instead of writing a limit again.
//!
//! buf runs it with `strategy: all`; it writes one `<package>.rs` per proto package and `_includes.rs`,
//! which nests them into modules (`route256::cart::v1`, …).
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

mod limits;

use prost::encoding::{self, WireType};
use prost::Message;
use prost_build::Module;
use prost_reflect::DescriptorPool;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

fn main() -> io::Result<()> {
    let mut input = Vec::new();
    io::stdin().read_to_end(&mut input)?;
    let request = CodeGeneratorRequest::decode(input.as_slice()).map_err(io::Error::other)?;
    let response = match generate(request, &input) {
        Ok(files) => CodeGeneratorResponse {
            supported_features: Some(Feature::Proto3Optional as u64),
            file: files,
            ..Default::default()
        },
        Err(error) => CodeGeneratorResponse {
            error: Some(error),
            ..Default::default()
        },
    };
    io::stdout().write_all(&response.encode_to_vec())
}

fn generate(request: CodeGeneratorRequest, raw_request: &[u8]) -> Result<Vec<File>, String> {
    // The validation rules are extension options, which `prost_types` drops while decoding: the pool that
    // prost-validate-build reads them from must be decoded from the raw bytes.
    let pool = DescriptorPool::decode(file_descriptor_set(raw_request)?.as_slice())
        .map_err(|e| format!("invalid descriptors: {e}"))?;

    let mut config = prost_build::Config::new();
    prost_validate_build::Builder::new().annotate(&mut config, &pool);
    config.service_generator(
        tonic_prost_build::configure()
            .codec_path("crate::codec::ValidatingCodec")
            .service_generator(),
    );

    let requests: Vec<_> = request
        .proto_file
        .into_iter()
        // The well-known types (`google.protobuf.Timestamp`) go in too: prost maps them to `prost_types`
        // and writes nothing for them, but it must see their messages to know what derives they allow.
        .filter(|file| {
            file.package() == "google.protobuf"
                || request
                    .file_to_generate
                    .iter()
                    .any(|name| name == file.name())
        })
        .map(|file| (Module::from_protobuf_package_name(file.package()), file))
        .collect();
    let mut files_of: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (module, file) in &requests {
        let parts = module.parts().map(str::to_owned).collect();
        files_of
            .entry(parts)
            .or_default()
            .push(file.name().to_owned());
    }
    let modules = config.generate(requests).map_err(|e| e.to_string())?;

    // Sorted, so the output (and `just gen`'s drift check) does not depend on hash order.
    let mut modules: BTreeMap<Vec<String>, String> = modules
        .into_iter()
        .map(|(module, code)| (module.parts().map(str::to_owned).collect(), code))
        .collect();
    for (parts, code) in &mut modules {
        let files: Vec<&str> = files_of
            .get(parts)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if let Some(limits) = limits::module(&pool, &files)? {
            code.push_str(&limits);
        }
    }
    let mut files: Vec<File> = modules
        .iter()
        .map(|(parts, code)| File {
            name: Some(format!("{}.rs", parts.join("."))),
            content: Some(code.clone()),
            ..Default::default()
        })
        .collect();
    files.push(File {
        name: Some("_includes.rs".to_owned()),
        content: Some(includes(modules.keys())),
        ..Default::default()
    });
    Ok(files)
}

/// Re-frames the `proto_file` entries (field 15) of an encoded `CodeGeneratorRequest` as an encoded
/// `FileDescriptorSet` (field 1), byte for byte, so that no option is lost. `proto_file` holds every file
/// to generate and all their imports, in dependency order.
fn file_descriptor_set(mut request: &[u8]) -> Result<Vec<u8>, String> {
    const PROTO_FILE: u32 = 15;
    let mut set = Vec::with_capacity(request.len());
    while !request.is_empty() {
        let (tag, wire_type) = encoding::decode_key(&mut request).map_err(|e| e.to_string())?;
        let len = match wire_type {
            WireType::Varint => {
                encoding::decode_varint(&mut request).map_err(|e| e.to_string())?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => {
                usize::try_from(encoding::decode_varint(&mut request).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err("unexpected group in CodeGeneratorRequest".to_owned())
            }
        };
        if len > request.len() {
            return Err("truncated CodeGeneratorRequest".to_owned());
        }
        let (value, rest) = request.split_at(len);
        if tag == PROTO_FILE && wire_type == WireType::LengthDelimited {
            encoding::encode_key(1, WireType::LengthDelimited, &mut set);
            encoding::encode_varint(value.len() as u64, &mut set);
            set.extend_from_slice(value);
        }
        request = rest;
    }
    Ok(set)
}

/// Nests every package's file into modules named after its parts, e.g. `pub mod route256 { pub mod cart {
/// pub mod v1 { include!("route256.cart.v1.rs"); } } }`.
fn includes<'a>(packages: impl Iterator<Item = &'a Vec<String>>) -> String {
    let mut out = String::from("// This file is @generated by protoc-gen-route256.\n");
    let mut open: Vec<&str> = Vec::new();
    for parts in packages {
        let common = open
            .iter()
            .zip(parts)
            .take_while(|(a, b)| **a == b.as_str())
            .count();
        while open.len() > common {
            open.pop();
            out.push_str(&format!("{}}}\n", "    ".repeat(open.len())));
        }
        for part in &parts[common..] {
            out.push_str(&format!("{}pub mod {part} {{\n", "    ".repeat(open.len())));
            open.push(part);
        }
        out.push_str(&format!(
            "{}include!(\"{}.rs\");\n",
            "    ".repeat(open.len()),
            parts.join(".")
        ));
    }
    while !open.is_empty() {
        open.pop();
        out.push_str(&format!("{}}}\n", "    ".repeat(open.len())));
    }
    out
}
