//! The `walkout` command line: parses arguments and calls the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use walkout::config::Config;

#[derive(Parser)]
#[command(
    name = "walkout",
    version,
    about = "Cashierless walk-out store: shelves + cameras -> carts -> charges and receipts"
)]
struct Cli {
    /// TOML config file (default: ./walkout.toml when present, else built-in defaults).
    #[arg(long, global = true, env = "WALKOUT_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (healthz, metrics) until SIGINT/SIGTERM.
    Serve,
    /// Set up the embedded demo store and report what was loaded.
    Demo,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Shelf sensing tools.
    #[command(subcommand)]
    Shelf(ShelfCommand),
    /// Publish recorded sensor data over MQTT as live hardware would.
    #[command(subcommand)]
    Replay(ReplayCommand),
    /// Benchmarks; each prints JSON.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Import a store from another system's files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Store geometry and camera tools.
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// Camera calibration: intrinsics from checkerboard images, poses from marked points.
    #[command(subcommand)]
    Calibrate(CalibrateCommand),
    /// Camera vision: shopper tracking.
    #[command(subcommand)]
    Vision(VisionCommand),
    /// The store simulator.
    #[command(subcommand)]
    Sim(SimCommand),
    /// The product gallery (photo embeddings by SKU) that hand crops are matched against.
    #[command(subcommand)]
    Gallery(GalleryCommand),
    /// Staff console accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Draw an entry token as the shopper's phone would (reference client).
    EntryToken {
        /// Device key file (base64url Ed25519 seed); created when missing.
        #[arg(long)]
        device_key: PathBuf,
        #[arg(long)]
        account: String,
        #[arg(long)]
        device: String,
        #[arg(long, default_value_t = 0)]
        guests: u8,
        /// Also write the token as a QR code PNG here.
        #[arg(long)]
        png: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account; the password is read from stdin (first line) or --password-env.
    Add {
        #[arg(long)]
        username: String,
        /// `reviewer` (review queue, live store) or `manager` (also the back office).
        #[arg(long)]
        role: String,
        /// Read the password from this environment variable instead of stdin.
        #[arg(long)]
        password_env: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Convert the AiFi store (geometry, cameras, planogram, catalogue) into calibration/<store>/.
    Aifi {
        #[arg(long)]
        store_meta: PathBuf,
        #[arg(long)]
        products: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum CalibrateCommand {
    /// Intrinsics and distortion from checkerboard images (OpenCV calibrateCamera); writes an intrinsics file.
    Intrinsics {
        /// Folder of checkerboard images (png, jpg, bmp, tif), all from one camera at one size.
        #[arg(long)]
        images: PathBuf,
        /// Inner corners, columns x rows, e.g. 9x6.
        #[arg(long)]
        board: String,
        /// Side of one square, millimetres.
        #[arg(long)]
        square_mm: f64,
        /// The intrinsics file to write (walkout.intrinsics.v1 JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// A camera's pose from marked points (CSV x,y,z,u,v[,label]; OpenCV solvePnP); updates cameras.json.
    Extrinsics {
        /// The camera's id in cameras.json.
        #[arg(long)]
        camera: String,
        /// Marked points: world metres x,y,z and pixel u,v.
        #[arg(long)]
        points: PathBuf,
        /// Intrinsics file from `calibrate intrinsics`; default: the camera's entry in cameras.json.
        #[arg(long)]
        intrinsics: Option<PathBuf>,
        /// A calibration folder whose cameras.json is updated.
        #[arg(long, required_unless_present = "out")]
        calibration: Option<PathBuf>,
        /// The cameras file to write instead of <calibration>/cameras.json.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Keep the camera's centre from cameras.json and fit only its aim.
        #[arg(long)]
        keep_centre: bool,
    },
}

#[derive(Subcommand)]
enum LayoutCommand {
    /// Draw the projected plate outlines on camera stills (camera_K.png) and write PNGs.
    Overlay {
        /// A calibration folder (cameras.json, geometry.json).
        #[arg(long)]
        calibration: PathBuf,
        /// Folder of stills named camera_K.png (K = the camera's file index).
        #[arg(long)]
        stills: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum VisionCommand {
    /// Track shoppers in the videos of one recording: one JSON line per frame time on stdout.
    Track {
        /// Folder of <recording>camK.mp4 files (K = the camera's file_index).
        #[arg(long)]
        videos: PathBuf,
        /// A calibration folder (cameras.json, geometry.json).
        #[arg(long)]
        calibration: PathBuf,
        /// Unix seconds of the recording's first frame.
        #[arg(long)]
        start: f64,
        /// Pose model manifest.
        #[arg(long, default_value = "models/movenet-multipose.toml")]
        model: PathBuf,
        /// Clothing-embedding model manifest, or "none".
        #[arg(long, default_value = "models/mobilenetv2-embed.toml")]
        appearance_model: String,
        /// Process every N-th frame.
        #[arg(long, default_value_t = 1)]
        every: u32,
        /// Which recording (the file name before camK) when the folder holds several; default: most cameras.
        #[arg(long)]
        recording: Option<String>,
        /// Product gallery (made with the appearance model) to match each visible wrist's crop against.
        #[arg(long)]
        hand_gallery: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GalleryCommand {
    /// Embed product photos (PNG/JPEG) and add them to a store's gallery under one SKU.
    Add {
        /// The store's calibration folder (its catalogue names the SKUs).
        #[arg(long, default_value = "calibration/demo-store")]
        calibration: PathBuf,
        /// Gallery file; created when missing.
        #[arg(long)]
        gallery: Option<PathBuf>,
        #[arg(long)]
        sku: String,
        /// Product-embedding model manifest.
        #[arg(long, default_value = "models/mobilenetv2-embed.toml")]
        model: PathBuf,
        /// Photos of the product.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Render the simulator's demo products and build the demo gallery and hand-crop bank.
    Demo {
        #[arg(long, default_value = "calibration/demo-store")]
        calibration: PathBuf,
        /// Output folder (gallery.json, hand-crops.json).
        #[arg(long, default_value = "calibration/demo-store")]
        out: PathBuf,
        #[arg(long, default_value = "models/mobilenetv2-embed.toml")]
        model: PathBuf,
        /// Rendered hand crops per product (as many again measure the crop rates).
        #[arg(long, default_value_t = 12)]
        crops_per_product: usize,
        /// Rendered empty-hand crops (as many again measure the crop rates).
        #[arg(long, default_value_t = 512)]
        empty_crops: usize,
        /// Also write a few rendered photos and crops here as PNG, to look at.
        #[arg(long)]
        samples: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// Write the demo store's generated geometry.json and cameras.json.
    Layout {
        #[arg(long, default_value = "calibration/demo-store")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Receipt accuracy on a simulated store through the real pipeline (JSON + Markdown, optional PNG plots).
    Accuracy {
        /// standard, crowded, adversarial, or all.
        #[arg(long, default_value = "standard")]
        scenario: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Parties (visits) arriving; each is one shopper or a host with guests.
        #[arg(long, default_value_t = 40)]
        shoppers: usize,
        /// Where the JSON report, the Markdown table and receipts go.
        #[arg(long, default_value = "target/walkout-accuracy")]
        out: PathBuf,
        /// Also write PNG plots (accuracy against crowding, store map) here.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// The demo store's catalogue folder.
        #[arg(long, default_value = "calibration/demo-store")]
        calibration: PathBuf,
        /// Keep every shelf event's track evidence in the JSON report
        /// (`attribution.fit_cases`), what the attribution model is fitted on.
        #[arg(long)]
        evidence: bool,
        /// Cameras report no hand crops (the simulator draws them from the calibration's hand-crops.json).
        #[arg(long)]
        no_hand_crops: bool,
    },
    /// Shelf detector and ingest throughput (synthetic plates from the fitted noise model).
    Shelf {
        #[arg(long, default_value_t = 350)]
        plates: u16,
        #[arg(long, default_value_t = 60.0)]
        duration_s: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also measure end to end through this broker, e.g. 127.0.0.1:1883 (Mosquitto).
        #[arg(long)]
        external_broker: Option<std::net::SocketAddr>,
    },
    /// Vision pipeline per-stage frames/s per core on the AiFi videos, beside Python onnxruntime on the same tensors.
    Vision {
        /// Folder of one recording's <name>camK.mp4 files.
        #[arg(long, default_value = "../shared/data/aifi-nanostore/video")]
        videos: PathBuf,
        /// Frame times per camera.
        #[arg(long, default_value_t = 40)]
        frames: usize,
        /// Calibration folder; default: the AiFi store imported from <videos>/..
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Pose model manifest.
        #[arg(long, default_value = "models/movenet-multipose.toml")]
        model: PathBuf,
        /// Python of the reference's environment (make bench-setup).
        #[arg(long, default_value = ".local/venv/bin/python")]
        python: PathBuf,
    },
    /// Exit -> capture -> receipt latency at N concurrent exits, and gate token verification.
    Checkout {
        /// postgres://... (a schema of its own is created and dropped) or sqlite (a temporary file).
        #[arg(long, default_value = "sqlite")]
        database_url: String,
        #[arg(long, default_value_t = 100)]
        exits: usize,
    },
}

#[derive(Subcommand)]
enum ShelfCommand {
    /// Detect pick and put-back events in recorded AiFi plate CSVs; one JSON object per line per event.
    Detect {
        /// Folder of gondola_G_shelf_S_plate_P.csv files (any subset of the store's plates).
        #[arg(long)]
        aifi_csv: PathBuf,
        /// The AiFi catalogue (Name,Gondola,Shelf,Plate,Weight,Price,Image).
        #[arg(long)]
        products: PathBuf,
        /// The AiFi store_meta folder (Plates.json).
        #[arg(long)]
        store_meta: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReplayCommand {
    /// Publish AiFi plate CSVs to the configured broker (mqtt.* config).
    Aifi {
        /// Folder of gondola_G_shelf_S_plate_P.csv files.
        #[arg(long)]
        data: PathBuf,
        /// 1 = real time, 10 = ten times faster, 0 = as fast as the broker acknowledges.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Store id used in the topics.
        #[arg(long, default_value = "aifi-nanostore")]
        store: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), std::env::vars()).context("invalid configuration")?;
    walkout::telemetry::init_logging(cli.log_json || config.log.format == "json", &config.log.level);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve => walkout::service::serve(&config).await.context("serve failed"),
            Command::Demo => {
                let report = walkout::demo::run(&config).await.context("demo failed")?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Shelf(ShelfCommand::Detect { aifi_csv, products, store_meta }) => {
                let params = walkout::shelf::pipeline::PipelineParams::with_defaults();
                let events = walkout::shelf::offline::detect_aifi(&aifi_csv, &products, &store_meta, params)?;
                for event in events {
                    println!("{}", serde_json::to_string(&event)?);
                }
                Ok(())
            }
            Command::Replay(ReplayCommand::Aifi { data, speed, store }) => {
                let plates = walkout::shelf::aifi::read_plate_dir(&data)?;
                let opts =
                    walkout::mqtt::client_options(&config.mqtt, &format!("walkout-replay-{}", std::process::id()))?;
                let report = walkout::shelf::replay::replay(opts, &store, &plates, speed).await?;
                println!("{}", serde_json::to_string(&report)?);
                Ok(())
            }
            Command::Bench(BenchCommand::Shelf { plates, duration_s, seed, external_broker }) => {
                let opts = walkout::bench::shelf::ShelfBenchOptions { plates, duration_s, seed, external_broker };
                let report = walkout::bench::shelf::run(&opts).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Import(ImportCommand::Aifi { store_meta, products, out }) => {
                let report = walkout::layout::import_aifi(&store_meta, &products, &out)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Vision(VisionCommand::Track {
                videos,
                calibration,
                start,
                model,
                appearance_model,
                every,
                recording,
                hand_gallery,
            }) => {
                use walkout::vision::{pipeline::TrackOptions, track_cmd};
                let opts = TrackOptions {
                    videos,
                    recording,
                    calibration,
                    start_unix: start,
                    model,
                    appearance_model: track_cmd::appearance_model(&appearance_model),
                    hand_gallery,
                    every,
                    onnxruntime: config.onnxruntime.library_path.clone(),
                    params: Default::default(),
                };
                let summary = track_cmd::track(&opts, &mut std::io::stdout().lock())?;
                eprintln!("{}", serde_json::to_string(&summary)?);
                Ok(())
            }
            Command::Gallery(GalleryCommand::Add { calibration, gallery, sku, model, images }) => {
                use walkout::vision::gallery_cmd::{Embedder, add};
                let catalog = walkout::catalog::Catalog::load(&calibration)?;
                let gallery = gallery.unwrap_or_else(|| calibration.join("gallery.json"));
                let mut embedder = Embedder::load(&model, &config.onnxruntime.library_path)?;
                let report = add(&mut embedder, &catalog, &gallery, &sku.as_str().into(), &images)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Gallery(GalleryCommand::Demo {
                calibration,
                out,
                model,
                crops_per_product,
                empty_crops,
                samples,
            }) => {
                use walkout::vision::gallery_cmd::{Embedder, demo};
                let catalog = walkout::catalog::Catalog::load(&calibration)?;
                let mut embedder = Embedder::load(&model, &config.onnxruntime.library_path)?;
                let report = demo(&mut embedder, &catalog, &out, crops_per_product, empty_crops, samples.as_deref())?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Calibrate(CalibrateCommand::Intrinsics { images, board, square_mm, out }) => {
                let report = walkout::layout::calibrate::commands::intrinsics(&images, &board, square_mm, &out)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Calibrate(CalibrateCommand::Extrinsics {
                camera,
                points,
                intrinsics,
                calibration,
                out,
                keep_centre,
            }) => {
                let cameras_file =
                    out.or_else(|| calibration.map(|d| d.join("cameras.json"))).context("--out or --calibration")?;
                let opts = walkout::layout::calibrate::commands::ExtrinsicsOptions {
                    camera: camera.as_str().into(),
                    points,
                    intrinsics,
                    cameras_file,
                    keep_centre,
                };
                let report = walkout::layout::calibrate::commands::extrinsics(&opts)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Layout(LayoutCommand::Overlay { calibration, stills, out }) => {
                let layout = walkout::layout::StoreLayout::load(&calibration)?;
                let found = walkout::layout::overlay::find_stills(&layout, &stills)?;
                let reports = walkout::layout::overlay_stills(&layout, &found, &out)?;
                println!("{}", serde_json::to_string_pretty(&reports)?);
                Ok(())
            }
            Command::EntryToken { device_key, account, device, guests, png } => {
                use walkout::visit::client::{DeviceKey, qr_png};
                let key = if device_key.exists() {
                    DeviceKey::load(&device_key)?
                } else {
                    let key = DeviceKey::generate();
                    key.save(&device_key)?;
                    eprintln!("new device key; register its public key: {}", key.public_key_b64());
                    key
                };
                let token = key.draw(&account.into(), &device.into(), walkout::now_ms() / 1000, guests);
                if let Some(path) = png {
                    std::fs::write(&path, qr_png(&token, 6)?)?;
                }
                println!("{token}");
                Ok(())
            }
            Command::Bench(BenchCommand::Vision { videos, frames, calibration, model, python }) => {
                let opts = walkout::bench::vision::VisionBenchOptions {
                    videos,
                    calibration,
                    frames,
                    model,
                    python,
                    script: PathBuf::from("scripts/ort_reference.py"),
                    onnxruntime: config.onnxruntime.library_path.clone(),
                };
                let report = walkout::bench::vision::run(&opts)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Sim(SimCommand::Layout { out }) => {
                walkout::sim::demo_layout::write(&out)?;
                println!("{}", serde_json::json!({ "written": [out.join("geometry.json"), out.join("cameras.json")] }));
                Ok(())
            }
            Command::Bench(BenchCommand::Accuracy {
                scenario,
                seed,
                shoppers,
                out,
                plot,
                calibration,
                evidence,
                no_hand_crops,
            }) => {
                let scenarios = walkout::bench::accuracy::cli::scenarios(&scenario).map_err(anyhow::Error::msg)?;
                let template = walkout::bench::accuracy::AccuracyOptions {
                    scenario: scenarios[0],
                    seed,
                    parties: shoppers,
                    calibration,
                    fusion: walkout::fusion::FusionParams::from_config(&config.fusion),
                    review_below_confidence: config.fusion.review_below_confidence,
                    progress: true,
                    receipts_dir: None,
                    keep_evidence: evidence,
                    hand_crops: !no_hand_crops,
                };
                let summary = tokio::task::spawn_blocking(move || {
                    walkout::bench::accuracy::cli::run_all(&scenarios, &template, &out, plot.as_deref())
                })
                .await??;
                println!("{}", serde_json::to_string_pretty(&summary)?);
                Ok(())
            }
            Command::Bench(BenchCommand::Checkout { database_url, exits }) => {
                let report = walkout::bench::checkout::run(&database_url, exits, &config.store.calibration_dir).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Staff(StaffCommand::Add { username, role, password_env }) => {
                let added =
                    walkout::review::staff::cli_add(&config.database, &username, &role, password_env.as_deref())
                        .await?;
                println!("{added}");
                Ok(())
            }
            Command::Migrate => {
                let (backend, applied, version) = walkout::migrate(&config.database).await?;
                println!(
                    "{}",
                    serde_json::json!({ "database": backend, "applied": applied, "schema_version": version })
                );
                Ok(())
            }
        }
    })
}
