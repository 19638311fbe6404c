// The sera web page: pick, drop or record audio; show its waveform, the emotion of the whole
// clip as bars, and every utterance on a timeline and in a table. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  labels: [],
  colors: {},
  limits: { max_upload_mb: 20, max_duration_s: 600 },
  clip: null,         // { name, duration, peaks: {low, high} | null, url }
  prediction: null,   // the /v1/predict answer
  segments: [],       // the /v1/analyze segments
  selected: null,     // index of the segment whose scores the bars show
  busy: false,
};

// --- the model ---------------------------------------------------------------------------

async function loadModel() {
  try {
    const info = await fetchJson("/v1/model");
    state.labels = info.labels;
    state.colors = info.colors;
    state.limits = info.limits;
    const uar = info.metrics && typeof info.metrics.uar === "number"
      ? `, UAR ${(100 * info.metrics.uar).toFixed(1)}%` : "";
    $("model-line").textContent = `Model ${info.name} on ${info.features.name} features${uar}`;
    $("limits").textContent = `WAV, FLAC, OGG or MP3, up to ${info.limits.max_upload_mb} MB and `
      + `${formatDuration(info.limits.max_duration_s)}.`;
    showFacts(info);
    $("model-card").textContent = info.card;
    renderLegend();
  } catch (error) {
    $("model-line").textContent = `The model could not be loaded: ${error.message}`;
  }
}

function showFacts(info) {
  const facts = [["Model", info.name], ["Features", info.features.name],
    ["Labels", info.labels.join(", ")], ["sera", info.version]];
  const metrics = info.metrics || {};
  for (const [key, name] of [["uar", "UAR"], ["accuracy", "Accuracy"], ["macro_f1", "Macro-F1"]]) {
    if (typeof metrics[key] === "number") facts.push([name, `${(100 * metrics[key]).toFixed(1)}%`]);
  }
  const list = $("model-facts");
  list.replaceChildren();
  for (const [term, value] of facts) {
    const row = document.createElement("div");
    row.append(element("dt", term), element("dd", value));
    list.append(row);
  }
}

// --- input: pick, drop, record -----------------------------------------------------------

function setUpInput() {
  const input = $("file-input");
  $("pick-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files.length) handleAudio(input.files[0], input.files[0].name);
    input.value = "";
  });
  const zone = $("drop-zone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) handleAudio(file, file.name);
  });
  $("record-button").addEventListener("click", () => (recorder ? stopRecording() : startRecording()));
  $("whole-button").addEventListener("click", () => selectSegment(null));
}

// Recording captures PCM with an AudioWorklet and encodes a 16-bit WAV here: what
// MediaRecorder gives (WebM/Opus in Chromium) is not a format the server's decoder reads.
const WORKLET = `
class SeraRecorder extends AudioWorkletProcessor {
  constructor() { super(); this.buffer = new Float32Array(4096); this.filled = 0; }
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length) {
      const frames = channels[0].length;
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (const channel of channels) sum += channel[i];
        this.buffer[this.filled++] = sum / channels.length;
        if (this.filled === this.buffer.length) {
          this.port.postMessage(this.buffer);
          this.buffer = new Float32Array(4096);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("sera-recorder", SeraRecorder);
`;

let recorder = null;

async function startRecording() {
  if (state.busy) return;
  if (!navigator.mediaDevices || !window.AudioWorkletNode) {
    showError("This browser cannot record audio here (it needs a secure page: https or localhost).");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    showError(`The microphone is not available: ${error.message}`);
    return;
  }
  const context = new AudioContext();
  const moduleUrl = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
  await context.audioWorklet.addModule(moduleUrl);
  URL.revokeObjectURL(moduleUrl);
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "sera-recorder", { numberOfOutputs: 0 });
  const chunks = [];
  node.port.onmessage = (event) => {
    chunks.push(event.data);
    showLevel(event.data);
  };
  source.connect(node);
  await context.resume();
  const started = performance.now();
  recorder = { stream, context, node, chunks, started, timer: null };
  recorder.timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    $("record-text").textContent = `Stop recording (${formatClock(seconds)})`;
    if (seconds >= state.limits.max_duration_s) stopRecording();
  }, 200);
  const button = $("record-button");
  button.setAttribute("aria-pressed", "true");
  button.classList.add("recording");
  $("record-text").textContent = "Stop recording (0:00)";
  $("level").hidden = false;
  setStatus("Recording… press the button again to stop.");
}

async function stopRecording() {
  const { stream, context, node, chunks, timer } = recorder;
  recorder = null;
  clearInterval(timer);
  node.port.onmessage = null;
  for (const track of stream.getTracks()) track.stop();
  const rate = context.sampleRate;
  await context.close();
  const button = $("record-button");
  button.setAttribute("aria-pressed", "false");
  button.classList.remove("recording");
  $("record-text").textContent = "Record from the microphone";
  $("level").hidden = true;
  const samples = concatenate(chunks);
  if (samples.length < rate / 4) {
    showError("The recording is too short: record at least a second of speech.");
    return;
  }
  handleAudio(new Blob([encodeWav(samples, rate)], { type: "audio/wav" }), "recording.wav");
}

function showLevel(chunk) {
  let sum = 0;
  for (const value of chunk) sum += value * value;
  const dbfs = 10 * Math.log10(sum / chunk.length + 1e-12);
  $("level-fill").style.width = `${Math.max(0, Math.min(100, (dbfs + 60) * 100 / 60))}%`;
}

function concatenate(chunks) {
  const out = new Float32Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A mono 16-bit PCM WAV file of float samples in [-1, 1]. */
function encodeWav(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (offset, value) => [...value].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 2 * samples.length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);          // size of the fmt chunk
  view.setUint16(20, 1, true);           // PCM
  view.setUint16(22, 1, true);           // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, 2 * rate, true);    // bytes per second
  view.setUint16(32, 2, true);           // bytes per frame
  view.setUint16(34, 16, true);          // bits per sample
  text(36, "data");
  view.setUint32(40, 2 * samples.length, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + 2 * i, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return view.buffer;
}

// --- one clip: waveform, then predict and analyze ----------------------------------------

async function handleAudio(blob, name) {
  if (state.busy) return;
  const limit = state.limits.max_upload_mb * 1024 * 1024;
  if (blob.size > limit) {
    showError(`${name} is ${(blob.size / 1048576).toFixed(1)} MB: the limit is ${state.limits.max_upload_mb} MB.`);
    return;
  }
  setBusy(true);
  setStatus(`Analysing ${name}…`);
  if (state.clip && state.clip.url) URL.revokeObjectURL(state.clip.url);
  state.clip = { name, duration: null, peaks: null, url: URL.createObjectURL(blob) };
  state.prediction = null;
  state.segments = [];
  state.selected = null;
  $("player").src = state.clip.url;
  try {
    const [decoded, prediction, analysis] = await Promise.allSettled([
      decodeForDisplay(blob), postAudio("/v1/predict", blob, name), postAudio("/v1/analyze", blob, name),
    ]);
    if (decoded.status === "fulfilled") {
      state.clip.peaks = decoded.value.peaks;
      state.clip.duration = decoded.value.duration;
    }
    if (prediction.status === "rejected" && analysis.status === "rejected") {
      throw prediction.reason;
    }
    if (analysis.status === "fulfilled") {
      state.segments = analysis.value.segments;
      state.clip.duration = analysis.value.duration;
    }
    state.prediction = prediction.status === "fulfilled" ? prediction.value : null;
    render();
    const found = `${state.segments.length} utterance${state.segments.length === 1 ? "" : "s"}`;
    if (state.prediction) {
      const p = state.prediction;
      setStatus(`${name}: ${p.label} (${percent(p.scores[p.label])}), ${found}.`);
    } else {
      setStatus(`${prediction.reason.message}; ${found} found.`, true);
    }
  } catch (error) {
    $("results").hidden = true;
    showError(error.message);
  } finally {
    setBusy(false);
  }
}

async function postAudio(url, blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  return fetchJson(url, { method: "POST", body: form });
}

async function fetchJson(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error(`the server could not be reached (${error.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : `the server answered ${response.status}`);
  }
  return body;
}

let displayContext = null;

/** The clip's duration and min/max envelope (for the waveform), decoded by the browser. */
async function decodeForDisplay(blob) {
  displayContext = displayContext || new OfflineAudioContext(1, 1, 22050);
  const audio = await displayContext.decodeAudioData(await blob.arrayBuffer());
  const columns = 1200;
  const data = audio.getChannelData(0);
  const per = Math.max(1, Math.ceil(data.length / columns));
  const low = new Float32Array(Math.ceil(data.length / per));
  const high = new Float32Array(low.length);
  for (let c = 0; c < low.length; c++) {
    let lo = 0;
    let hi = 0;
    for (let i = c * per, end = Math.min(data.length, i + per); i < end; i++) {
      if (data[i] < lo) lo = data[i];
      if (data[i] > hi) hi = data[i];
    }
    low[c] = lo;
    high[c] = hi;
  }
  return { duration: audio.duration, peaks: { low, high } };
}

// --- rendering ---------------------------------------------------------------------------

function render() {
  $("results").hidden = false;
  const clip = state.clip;
  $("file-line").textContent = `${clip.name}, ${formatDuration(clip.duration || 0)}`;
  selectSegment(null);
  renderTable();
  drawWaveform();
}

function selectSegment(index) {
  state.selected = index;
  const segment = index === null ? null : state.segments[index];
  const shown = segment || state.prediction;
  $("whole-button").hidden = segment === null || !state.prediction;
  if (shown) {
    $("result-label").textContent = shown.label;
    $("result-confidence").textContent = percent(shown.scores[shown.label]);
    $("result-chip").style.background = colorOf(shown.label);
    $("scores-caption").textContent = segment
      ? `Utterance ${index + 1}, ${segment.start.toFixed(2)} to ${segment.end.toFixed(2)} s`
      : "The whole clip";
    renderBars(shown.scores);
  } else {
    $("result-label").textContent = "—";
    $("result-confidence").textContent = "";
    $("result-chip").style.background = "transparent";
    $("scores-caption").textContent = "The whole clip could not be classified; see the utterances below.";
    renderBars({});
  }
  for (const row of $("segment-rows").children) {
    row.classList.toggle("selected", Number(row.dataset.index) === index);
  }
  drawWaveform();
}

function renderBars(scores) {
  const bars = $("bars");
  bars.replaceChildren();
  const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of ranked) {
    const item = document.createElement("li");
    item.className = "bar";
    const track = element("span", "", "bar-track");
    const fill = element("span", "", "bar-fill");
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    fill.style.background = colorOf(label);
    track.append(fill);
    track.setAttribute("aria-hidden", "true");
    item.append(element("span", label, "bar-label"), track, element("span", percent(p), "bar-value"));
    bars.append(item);
  }
}

function renderTable() {
  const rows = $("segment-rows");
  rows.replaceChildren();
  const count = state.segments.length;
  $("segments-caption").textContent = count
    ? `${count} utterance${count === 1 ? "" : "s"}: choose one to see its probabilities and hear it`
    : "No speech found in this audio";
  state.segments.forEach((segment, index) => {
    const row = document.createElement("tr");
    row.dataset.index = index;
    const pick = element("button", String(index + 1), "link-button");
    pick.type = "button";
    pick.setAttribute("aria-label", `Utterance ${index + 1}: ${segment.label}, from ${segment.start.toFixed(2)} s`);
    pick.addEventListener("click", () => {
      selectSegment(index);
      const player = $("player");
      player.currentTime = segment.start;
    });
    const first = document.createElement("td");
    first.append(pick);
    const emotion = document.createElement("td");
    const chip = element("span", "", "chip small");
    chip.style.background = colorOf(segment.label);
    chip.setAttribute("aria-hidden", "true");
    emotion.append(chip, document.createTextNode(segment.label));
    row.append(first, element("td", `${segment.start.toFixed(2)} s`), element("td", `${segment.end.toFixed(2)} s`),
      emotion, element("td", percent(segment.scores[segment.label])));
    rows.append(row);
  });
}

function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren();
  for (const label of state.labels) {
    const chip = element("span", "", "chip small");
    chip.style.background = colorOf(label);
    chip.setAttribute("aria-hidden", "true");
    const item = document.createElement("li");
    item.append(chip, document.createTextNode(label));
    legend.append(item);
  }
}

/** The waveform, each utterance's span shaded in its emotion's colour, a timeline strip under
 * it, and the playback position. */
function drawWaveform() {
  const canvas = $("waveform");
  const clip = state.clip;
  if (!clip || canvas.offsetParent === null) return;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const style = getComputedStyle(document.documentElement);
  const ink = style.getPropertyValue("--ink").trim() || "#222";
  const faint = style.getPropertyValue("--faint").trim() || "#ccc";
  const duration = clip.duration || 1;
  const strip = 18;
  const axis = 20;
  const waveHeight = height - strip - axis - 6;
  const x = (seconds) => (seconds / duration) * width;

  state.segments.forEach((segment, index) => {
    g.globalAlpha = state.selected === null || state.selected === index ? 0.22 : 0.08;
    g.fillStyle = colorOf(segment.label);
    g.fillRect(x(segment.start), 0, Math.max(1, x(segment.end) - x(segment.start)), waveHeight);
    g.globalAlpha = 1;
    g.fillRect(x(segment.start), waveHeight + 4, Math.max(2, x(segment.end) - x(segment.start)), strip);
    if (state.selected === index) {
      g.strokeStyle = ink;
      g.lineWidth = 2;
      g.strokeRect(x(segment.start) + 1, waveHeight + 4 + 1, Math.max(2, x(segment.end) - x(segment.start)) - 2, strip - 2);
    }
  });
  g.globalAlpha = 1;
  g.fillStyle = faint;
  g.fillRect(0, waveHeight / 2, width, 1);
  const step = niceStep(duration, width / 80);
  for (let t = step; t < duration; t += step) g.fillRect(x(t), 0, 1, waveHeight);
  if (clip.peaks) {
    const { low, high } = clip.peaks;
    let peak = 1e-3;
    for (let i = 0; i < low.length; i++) peak = Math.max(peak, -low[i], high[i]);
    const scale = (waveHeight / 2 - 4) / peak;
    g.fillStyle = ink;
    for (let px = 0; px < width; px++) {
      const c = Math.floor((px / width) * low.length);
      const top = waveHeight / 2 - high[c] * scale;
      const bottom = waveHeight / 2 - low[c] * scale;
      g.fillRect(px, top, 1, Math.max(1, bottom - top));
    }
  }
  g.fillStyle = ink;
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "top";
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const px = x(t);
    g.textAlign = px < 10 ? "left" : px > width - 20 ? "right" : "center";
    g.fillText(`${Number(t.toFixed(2))} s`, px, waveHeight + strip + 9);
  }
  const player = $("player");
  if (player.currentTime > 0) {
    g.fillStyle = "#e4572e";
    g.fillRect(x(player.currentTime), 0, 2, waveHeight + strip + 4);
  }
  canvas.setAttribute("aria-label", describeTimeline());
}

function describeTimeline() {
  const clip = state.clip;
  const spans = state.segments.map((s) => `${s.label} from ${s.start.toFixed(1)} to ${s.end.toFixed(1)} s`);
  return `Waveform of ${clip.name}, ${formatDuration(clip.duration || 0)}`
    + (spans.length ? `; utterances: ${spans.join("; ")}` : "; no utterances found");
}

function niceStep(duration, ticks) {
  const raw = duration / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

// --- small helpers -----------------------------------------------------------------------

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function colorOf(label) {
  return state.colors[label] || "#888888";
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function formatClock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function formatDuration(seconds) {
  return seconds >= 60 ? `${(seconds / 60).toFixed(seconds % 60 ? 1 : 0)} min` : `${seconds.toFixed(1)} s`;
}

function setStatus(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function showError(message) {
  setStatus(message, true);
}

function setBusy(busy) {
  state.busy = busy;
  $("pick-button").disabled = busy;
  $("record-button").disabled = busy;
  document.body.classList.toggle("busy", busy);
  $("drop-zone").setAttribute("aria-busy", String(busy));
}

function animatePlayhead() {
  drawWaveform();
  if (!$("player").paused) requestAnimationFrame(animatePlayhead);
}

document.addEventListener("DOMContentLoaded", () => {
  setUpInput();
  loadModel();
  $("player").addEventListener("play", animatePlayhead);
  $("player").addEventListener("seeked", drawWaveform);
  window.addEventListener("resize", drawWaveform);
});
