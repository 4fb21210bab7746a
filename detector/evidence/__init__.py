"""Evidence stage: ring buffer of recent frames, atomic signed bundles, per-camera hash chain, verify.

Kept import-light: import the parts from their modules: `stage` (EvidenceSink, open_evidence_sink: what the pipeline uses), `manifest`
(EvidenceManifest, schema), `keys` (Signer, load/generate keys), `ring` (FrameRing, EvidenceCollector,
PendingBundle), `writer` (BundleWriter), `verify` (verify_bundle, verify_chain). Format: FORMAT.md.
"""
