// The video detector page: posts the video, reads the NDJSON answer line by line, shows each frame as it comes.
"use strict";

const $ = (id) => document.getElementById(id);
let maxUploadBytes = null;

function mb(bytes) {
  return (bytes / 1e6).toFixed(1) + " MB";
}

function seconds(t) {
  return t === null || t === undefined ? "–" : t.toFixed(1) + " s";
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function reset() {
  $("error").hidden = true;
  $("error").textContent = "";
  $("summary").hidden = true;
  $("summary").className = "";
  $("frames").replaceChildren();
  $("progress").textContent = "";
}

async function loadConfig() {
  try {
    const response = await fetch("/api/config");
    const config = await response.json();
    $("model").textContent = config.model;
    maxUploadBytes = config.max_upload_bytes;
    $("limit").textContent = "Up to " + mb(maxUploadBytes) + ": mp4, mov, avi, mkv or webm.";
    $("consecutive").max = config.max_consecutive;
  } catch (err) {
    showError("Cannot reach the app's server: " + err);
  }
}

function cell(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function addFrame(event) {
  const row = cell("li", "frame " + (event.status === "error" ? "error" : event.detected ? "detected" : "absent"));
  row.dataset.index = event.index;
  row.dataset.timestamp = event.timestamp;
  row.dataset.status = event.status;
  row.dataset.detected = event.detected;
  const img = document.createElement("img");
  img.alt = "frame at " + seconds(event.timestamp);
  if (event.thumbnail) img.src = event.thumbnail;
  row.append(img, cell("span", "time", seconds(event.timestamp)));
  if (event.status === "error") {
    row.append(cell("span", "verdict", "Error"), cell("span", "conf", ""), cell("span", "desc", event.error));
  } else {
    const verdict = event.detected ? "Seen" : event.present ? "Unsure" : "Not seen";
    row.append(
      cell("span", "verdict", verdict),
      cell("span", "conf", event.confidence + "/10"),
      cell("span", "desc", event.description || "")
    );
  }
  $("frames").append(row);
  const total = event.frames_total ? " of " + event.frames_total : "";
  $("progress").textContent = "Checked " + (event.index + 1) + total + " frames…";
  $("progress").dataset.frames = $("frames").children.length;
}

const TITLES = {
  detected: "Found",
  end_of_video: "Scanned the whole video",
  max_frames: "Stopped at the frame limit",
  server_errors: "The model server failed",
  video_error: "Could not read the video",
};

function showSummary(s) {
  const box = $("summary");
  box.dataset.reason = s.reason;
  box.dataset.status = s.status;
  box.dataset.framesChecked = s.frames_checked;
  box.className = s.status === "error" ? "failed" : s.detected ? "found" : "";
  let title = TITLES[s.reason] || s.reason;
  if (s.detected) title += " — first seen at " + seconds(s.first_detection);
  $("summary-title").textContent = title;
  const stopped = s.stopped_early ? "Stopped early after " : "Checked ";
  const counts = s.frames_checked
    ? stopped + s.frames_checked + " of " + (s.frames_total ?? "?") + " frames in " + s.elapsed.toFixed(1) + " s" +
      (s.errors ? "; " + s.errors + " frame(s) failed." : ".")
    : "No frame was checked.";
  // An error's full text is in the error box above; here the counts are enough.
  $("summary-text").textContent = s.status === "error" ? counts : s.message + ". " + counts;
  box.hidden = false;
  $("progress").textContent = s.frames_checked + " frames checked.";
  $("progress").dataset.frames = s.frames_checked;
  if (s.status === "error") showError(s.error || s.message);
}

function handle(event) {
  if (event.type === "frame") addFrame(event);
  else if (event.type === "summary") showSummary(event);
  else if (event.type === "error") showError(event.error);
  return event.type === "summary";
}

async function scan(file, params) {
  let response;
  try {
    response = await fetch("/api/detect?" + params, {
      method: "POST",
      body: file,
      headers: { "Content-Type": file.type || "application/octet-stream" },
    });
  } catch (err) {
    showError("The upload failed: " + err);
    return;
  }
  if (!response.ok) {
    let message = "HTTP " + response.status;
    try {
      message = (await response.json()).error || message;
    } catch (_) { /* not JSON: keep the status */ }
    showError(message);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      showError("The connection to the app was lost: " + err);
      return;
    }
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) finished = handle(JSON.parse(line)) || finished;
    }
  }
  if (buffer.trim()) finished = handle(JSON.parse(buffer)) || finished;
  if (!finished) showError("The scan ended without a result (the app's server stopped?).");
}

$("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  reset();
  const file = $("video").files[0];
  const target = $("target").value.trim();
  if (!file) return showError("Choose a video file first.");
  if (!target) return showError("Say what to look for, e.g. “a red ball”.");
  if (maxUploadBytes !== null && file.size > maxUploadBytes) {
    return showError("The video is " + mb(file.size) + ", larger than the upload limit of " + mb(maxUploadBytes) +
      ". Send a shorter or smaller clip.");
  }
  const params = new URLSearchParams({
    target,
    consecutive: $("consecutive").value || "0",
    clahe: $("clahe").checked ? "1" : "0",
    name: file.name,
  });
  $("start").disabled = true;
  $("progress").textContent = "Uploading " + file.name + " (" + mb(file.size) + ")…";
  try {
    await scan(file, params);
  } finally {
    $("start").disabled = false;
  }
});

loadConfig();
