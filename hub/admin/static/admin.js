// Switchboard admin: live job progress (server-sent events) and multi-file drag-and-drop uploads.
// Plain JavaScript, no build step. Every POST from here carries the page's CSRF token in a header.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

// Follow one job's SSE stream; calls onSnapshot(job) for every state until done or failed.
function followJob(url, onSnapshot) {
  const source = new EventSource(url);
  source.addEventListener("job", (event) => {
    const job = JSON.parse(event.data);
    onSnapshot(job);
    if (job.status === "done" || job.status === "failed") source.close();
  });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) return; };
  return source;
}

function showJob(bar, label, job) {
  bar.max = Math.max(job.total, 1);
  bar.value = job.status === "done" ? bar.max : job.progress;
  const errors = (job.errors || []).map((e) => e.error).join("; ");
  label.textContent = job.status + (errors ? ": " + errors : "");
  bar.dataset.status = job.status;
}

// Progress bars already on the page (sources, jobs).
function wireBars() {
  document.querySelectorAll("progress[data-events]").forEach((bar) => {
    let label = bar.nextElementSibling;
    if (!label || !label.classList.contains("job-status")) {
      label = document.createElement("span");
      label.className = "job-status";
      bar.after(label);
    }
    followJob(bar.dataset.events, (job) => showJob(bar, label, job));
  });
}

// One request (and one job) per file, so every file has its own bar.
async function uploadOne(file, list) {
  const workspace = document.getElementById("upload-workspace").value;
  const collection = document.getElementById("upload-collection").value || "default";
  const item = document.createElement("li");
  item.className = "upload";
  item.dataset.name = file.name;
  const name = document.createElement("span");
  name.textContent = file.name + " ";
  const bar = document.createElement("progress");
  bar.max = 1; bar.value = 0;
  const label = document.createElement("span");
  label.className = "job-status";
  label.textContent = " sending";
  item.append(name, bar, label);
  list.append(item);
  const form = new FormData();
  form.append("collection", collection);
  form.append("files", file, file.name);
  const response = await fetch(`/admin/w/${encodeURIComponent(workspace)}/uploads`, {
    method: "POST", body: form, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin",
  });
  if (!response.ok) {
    bar.dataset.status = "failed";
    label.textContent = " failed: " + (await response.text());
    return;
  }
  const accepted = await response.json();
  item.dataset.job = accepted.job_id;
  followJob(accepted.events, (job) => showJob(bar, label, job));
}

function wireUploads() {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const list = document.getElementById("upload-list");
  const send = (files) => Array.from(files).forEach((f) => uploadOne(f, list));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); send(e.dataTransfer.files); });
  document.getElementById("file-input").addEventListener("change", (e) => send(e.target.files));
}

document.addEventListener("DOMContentLoaded", () => { wireBars(); wireUploads(); });
