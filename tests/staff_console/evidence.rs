//! Evidence: kept only for flagged visits, served only to staff, drawn on
//! the case page, and deleted by the retention job once the period is over
//! (the clock is moved, never slept on).

use super::shop::{Client, PASSWORD, frame, open_shop};
use axum::http::StatusCode;
use walkout::db::{CartEventKind, Storage};
use walkout::ids::CameraId;
use walkout::review::evidence::{EvidenceError, FlaggedEvent, View};
use walkout::review::retention::{Retention, purge};
use walkout::review::ring::EvidenceBuffers;
use walkout::review::snapshot::PixelBox;
use walkout::review::staff::Role;

#[tokio::test]
async fn evidence_is_served_to_staff_and_drawn_on_the_case_page() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let flagged = shop.flagged_visit("ana@example.com", "Ana").await;
    let kept = shop.demo.storage.evidence_for_visit(&flagged.visit).await.unwrap();
    assert_eq!(kept.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["candidates", "snapshot", "weight_trace"]);
    assert!(kept.iter().all(|e| e.event_id == flagged.water_event));
    let snapshot = kept.iter().find(|e| e.kind == "snapshot").unwrap();
    let url = format!("/console/evidence/{}", snapshot.id);
    let anonymous = Client::new(&shop.router).get(&url).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "staff only");
    let mut rita = Client::new(&shop.router);
    rita.log_in("rita", PASSWORD).await;
    let page = rita.get(&format!("/console/cases/{}", flagged.case)).await;
    assert!(page.body.contains(&url), "the case page shows the snapshot");
    assert!(
        page.body.contains("Plate 2.3.4 weight around the event") && page.body.contains("<polyline"),
        "the trace chart"
    );
    assert!(page.body.contains("Medium sparkling mineral water 1.5 l") && page.body.contains("44 %"), "the candidates");
    assert!(page.body.contains("55 %") && page.body.contains("event low"), "the unsure event is marked");
    let (_, source) = frame();
    let image = rita.get(&url).await;
    assert_eq!((image.status, image.header("content-type")), (StatusCode::OK, "image/jpeg"), "from the {source}");
    assert_eq!(image.header("cache-control"), "private, no-store");
    assert_eq!(rita.get("/console/evidence/nothing-here").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_visit_charged_without_review_keeps_no_evidence() {
    let shop = open_shop().await;
    let (_, visit) = shop.demo.shopper_enters("bo@example.com", "Bo").await;
    shop.demo.event(&visit, 0, CartEventKind::Pick, "DM-0002", 1, 0.99).await;
    shop.demo.exit.exit(&visit, walkout::now_ms()).await.unwrap();
    let (img, _) = frame();
    let view = View { camera: CameraId::from("cam-1"), hand: PixelBox::new(10, 10, 40, 40), track: None };
    let refused = shop.console.evidence.keep_snapshot(&visit, "e", walkout::now_ms(), &img, &view).await;
    assert!(matches!(refused, Err(EvidenceError::NotFlagged { status: "settled", .. })), "{refused:?}");
    assert!(shop.demo.storage.evidence_for_visit(&visit).await.unwrap().is_empty());
}

#[tokio::test]
async fn retention_deletes_files_and_rows_after_the_period_only() {
    let shop = open_shop().await;
    let flagged = shop.flagged_visit("ana@example.com", "Ana").await;
    let store = &shop.console.evidence;
    let kept = shop.demo.storage.evidence_for_visit(&flagged.visit).await.unwrap();
    let files: Vec<_> = kept.iter().map(|e| store.root().join(&e.path)).collect();
    assert!(files.iter().all(|f| f.is_file()), "{files:?}");
    let retention = Retention { hours: 72 };
    let created = kept.iter().map(|e| e.created_at).max().unwrap();
    let report = purge(store, retention, created + 71 * 3_600_000).await.unwrap();
    assert_eq!((report.expired, report.unflagged), (0, 0), "within the period nothing goes");
    assert!(files.iter().all(|f| f.is_file()));
    let report = purge(store, retention, created + 72 * 3_600_000 + 1).await.unwrap();
    assert_eq!(report.expired, 3);
    assert!(files.iter().all(|f| !f.exists()), "the files are gone");
    assert!(shop.demo.storage.evidence_for_visit(&flagged.visit).await.unwrap().is_empty(), "and the rows");
}

#[tokio::test]
async fn evidence_of_a_visit_that_ended_without_review_is_deleted() {
    let shop = open_shop().await;
    let (_, visit) = shop.demo.shopper_enters("cy@example.com", "Cy").await;
    let event = shop.demo.event(&visit, 0, CartEventKind::Pick, "DM-0002", 1, 0.95).await;
    shop.keep_evidence(&visit, &event).await;
    let store = &shop.console.evidence;
    assert_eq!(purge(store, Retention { hours: 72 }, shop.console.now()).await.unwrap().unflagged, 0, "still shopping");
    shop.demo.exit.exit(&visit, walkout::now_ms()).await.unwrap();
    let report = purge(store, Retention { hours: 72 }, shop.console.now()).await.unwrap();
    assert_eq!(report.unflagged, 3, "charged without review: nothing stays");
    assert!(shop.demo.storage.evidence_for_visit(&visit).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_pipeline_keeps_a_flagged_event_from_its_buffers() {
    let shop = open_shop().await;
    let (_, visit) = shop.demo.shopper_enters("di@example.com", "Di").await;
    let event = shop.demo.event(&visit, 0, CartEventKind::Pick, "DM-0002", 1, 0.5).await;
    let at = walkout::now_ms();
    let (img, _) = frame();
    let img = std::sync::Arc::new(img);
    let mut buffers = EvidenceBuffers::new(20, 600, 10_000);
    let cam = CameraId::from("cam-3");
    for k in -5..=5 {
        buffers.push_frame(&cam, at + k * 100, img.clone());
    }
    let plate = "2.3.4".parse().unwrap();
    for k in -300..300 {
        buffers.push_reading(plate, at + k * 16, if k < 0 { 3_000.0 } else { 1_440.0 });
    }
    let flagged = FlaggedEvent {
        visit: visit.clone(),
        event_id: event,
        at,
        views: vec![
            View { camera: cam, hand: PixelBox::new(100, 100, 130, 130), track: None },
            View { camera: CameraId::from("cam-9"), hand: PixelBox::new(1, 1, 5, 5), track: None },
        ],
        plates: vec![plate],
        candidates: vec![],
    };
    let kept = shop.console.evidence.keep_flagged_event(&buffers, &flagged).await.unwrap();
    assert_eq!(
        kept.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["snapshot", "weight_trace"],
        "cam-9 saw nothing"
    );
    let trace = shop.console.evidence.weight_trace(&kept[1]).await.unwrap();
    assert!(trace.samples.first().unwrap().0 >= at - 3_000 && trace.samples.last().unwrap().0 <= at + 3_000);
    let jpeg = shop.console.evidence.read(&kept[0]).await.unwrap();
    let crop = image::load_from_memory(&jpeg).unwrap();
    assert!(crop.width() <= 256 && crop.height() <= 256, "a crop, never the frame");
}
