// The sera web page: pick, drop or record audio; show its waveform, the emotion of the whole
// clip as bars, and every utterance on a timeline and in a table. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  labels: [],
  colors: {},
  limits: { max_upload_mb: 20, max_duration_s: 600 },
  token: null,        // the bearer token, when the server needs one
  clip: null,         // { name, duration, peaks: {low, high} | null, url }
  analysis: null,     // the /v1/analyze answer
  prediction: null,   // the /v1/predict answer (one short utterance only)
  playUntil: null,    // where playback of one utterance stops
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
    $("model-line").textContent = `Model ${info.name} on ${info.feature_set} features${uar}`;
    $("limits").textContent = `WAV, FLAC, OGG or MP3, up to ${info.limits.max_upload_mb} MiB and `
      + `${formatDuration(info.limits.max_duration_s)}.`;
    showFacts(info);
    // HTML the server rendered from the card's markdown with raw HTML disabled.
    $("model-card").innerHTML = info.card_html;
    showExamples(info.examples || []);
    renderLegend();
  } catch (error) {
    $("model-line").textContent = `The model could not be loaded: ${error.message}`;
  }
}

function showFacts(info) {
  const facts = [["Model", info.name], ["Features", info.feature_set],
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
  // Clicking anywhere in the drop area opens the chooser (its buttons do their own thing).
  zone.addEventListener("click", (event) => {
    if (!event.target.closest("button, a, input")) input.click();
  });
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
  $("cancel-button").addEventListener("click", () => {
    const name = state.clip ? state.clip.name : "the audio";
    cancelCurrent();
    clearResults();
    setStatus(`Cancelled: ${name} was not analysed.`);
  });
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => exportAs(button.dataset.export));
  }
  const canvas = $("waveform");
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const index = segmentAt(event.clientX - box.left, event.clientY - box.top);
    if (index !== null) playSegment(index);
  });
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    canvas.style.cursor = segmentAt(event.clientX - box.left, event.clientY - box.top) === null ? "default" : "pointer";
  });
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
  if (!navigator.mediaDevices || !window.AudioWorkletNode) {
    clearResults();
    showError("This browser cannot record audio here (it needs a secure page: https or localhost).");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    clearResults();
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
    clearResults();
    showError("The recording is too short: it needs at least 0.25 s of audio (a second or more of speech works best).");
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

// --- one clip: waveform, then analyze (and predict for one short utterance) --------------

//: Longest audio whose whole-clip emotion (/v1/predict) is shown for a single utterance; a
//: longer recording is only analysed, once.
const WHOLE_CLIP_S = 30;

let current = null;   // the analysis in progress: { id, request } (request: its XMLHttpRequest)
let runs = 0;

async function handleAudio(blob, name) {
  // A new file, recording or example replaces whatever was shown or is being analysed.
  cancelCurrent();
  clearResults();
  const limit = state.limits.max_upload_mb * 1024 * 1024;
  if (blob.size > limit) {
    showError(`${name} is ${(blob.size / 1048576).toFixed(1)} MiB: the limit is ${state.limits.max_upload_mb} MiB.`);
    return;
  }
  const id = ++runs;
  current = { id, request: null };
  setBusy(true);
  setStatus(`Sending ${name}…`);
  showProgress(undefined);
  state.clip = { name, duration: null, peaks: null, url: URL.createObjectURL(blob) };
  $("player").src = state.clip.url;
  const stale = () => !current || current.id !== id;
  try {
    const decoded = decodeForDisplay(blob).catch(() => null);
    const analysis = await postAudio("/v1/analyze", blob, name, (fraction) => {
      if (stale()) return;
      showProgress(fraction);
      setStatus(fraction < 1 ? `Sending ${name}… ${Math.round(100 * fraction)}%`
        : `Analysing ${name}… (finding the utterances and their emotions)`);
    });
    if (stale()) return;
    state.analysis = analysis;
    state.segments = analysis.segments;
    state.clip.duration = analysis.duration;
    if (state.segments.length === 1 && analysis.duration <= WHOLE_CLIP_S) {
      setStatus(`Classifying ${name}…`);
      state.prediction = await postAudio("/v1/predict", blob, name).catch(() => null);
      if (stale()) return;
    }
    const display = await decoded;
    if (stale()) return;
    if (display) state.clip.peaks = display.peaks;
    render();
    setStatus(outcomeMessage(name));
  } catch (error) {
    if (stale()) return;
    clearResults();
    showError(error.message);
  } finally {
    if (!stale()) {
      current = null;
      setBusy(false);
    }
  }
}

/** One line saying what came of the analysis (the single message of each outcome). */
function outcomeMessage(name) {
  const count = state.segments.length;
  if (count === 0) return `${name}: no speech found (silent, or no voice in it).`;
  if (count === 1) {
    const shown = state.prediction || state.segments[0];
    return `${name}: ${shown.label} (${percent(shown.scores[shown.label])}).`;
  }
  const summary = state.analysis.summary;
  const speakers = Object.keys(summary.speakers).length;
  const who = speakers > 1 ? `, ${speakers} speakers` : "";
  return `${name}: ${count} utterances${who}; mostly ${summary.dominant_emotion} (${percent(summary.shares[summary.dominant_emotion])} of the speaking time).`;
}

function cancelCurrent() {
  if (!current) return;
  if (current.request) current.request.abort();
  current = null;
  setBusy(false);
}

function clearResults() {
  $("results").hidden = true;
  if (state.clip && state.clip.url) URL.revokeObjectURL(state.clip.url);
  state.clip = null;
  state.analysis = null;
  state.prediction = null;
  state.segments = [];
  state.selected = null;
  state.playUntil = null;
  $("player").pause();
  $("player").removeAttribute("src");
  $("bars").replaceChildren();
  $("segment-rows").replaceChildren();
  $("speaker-rows").replaceChildren();
  showProgress(null);
}

/** The progress bar: hidden (null), indeterminate (undefined: the server is analysing, which
 * it does not report on), or the fraction of the upload sent. */
function showProgress(fraction) {
  const bar = $("progress-bar");
  $("progress").hidden = fraction === null;
  if (fraction === undefined || fraction === null || fraction >= 1) bar.removeAttribute("value");
  else bar.value = fraction;
}

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

/** POST the audio as a form, with upload progress and a request that cancel can abort. */
function postAudio(url, blob, name, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    for (const [key, value] of Object.entries(authHeaders())) request.setRequestHeader(key, value);
    request.responseType = "json";
    if (onProgress) {
      request.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
      request.upload.onload = () => onProgress(1);
    }
    request.onload = () => {
      const body = request.response;
      if (request.status >= 200 && request.status < 300 && body) resolve(body);
      else {
        if (request.status === 401) askForToken();
        reject(new Error(body && body.error ? body.error : `the server answered ${request.status}`));
      }
    };
    request.onerror = () => reject(new Error("the server could not be reached"));
    request.onabort = () => reject(new Error("cancelled"));
    if (current) current.request = request;
    const form = new FormData();
    form.append("file", blob, name);
    request.send(form);
  });
}

async function fetchJson(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
  } catch (error) {
    throw new Error(`the server could not be reached (${error.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) askForToken();
    throw new Error(body && body.error ? body.error : `the server answered ${response.status}`);
  }
  return body;
}

async function fetchBlob(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body && body.error ? body.error : `the server answered ${response.status}`);
  }
  return response.blob();
}

// --- token, examples, export -----------------------------------------------------------

function askForToken() {
  $("token-form").hidden = false;
  $("token-input").focus();
}

function setUpToken() {
  // A token may come in the address's fragment (never sent to the server): /#token=...
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("sera-token", fromHash);
    history.replaceState(null, "", location.pathname);
  }
  state.token = sessionStorage.getItem("sera-token");
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("sera-token", state.token);
    $("token-form").hidden = true;
    setStatus("");
    loadModel();
  });
}

function showExamples(examples) {
  const line = $("examples");
  line.replaceChildren(document.createTextNode("Or try a synthetic example: "));
  for (const example of examples) {
    const button = element("button", example.title, "link-button");
    button.type = "button";
    button.dataset.example = example.name;
    button.addEventListener("click", async (event) => {
      event.stopPropagation();
      try {
        handleAudio(await fetchBlob(`/v1/examples/${encodeURIComponent(example.name)}`), example.name);
      } catch (error) {
        clearResults();
        showError(error.message);
      }
    });
    line.append(button, document.createTextNode(" "));
  }
  line.hidden = examples.length === 0;
}

async function exportAs(kind) {
  if (!state.analysis) return;
  try {
    const blob = await fetchBlob(`/v1/export/${kind}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(state.analysis),
    });
    const stem = (state.analysis.path || "recording").replace(/\.[^.]*$/, "") || "recording";
    const link = element("a", "");
    link.href = URL.createObjectURL(blob);
    link.download = `${stem}.${kind}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    showError(`The ${kind.toUpperCase()} file could not be made: ${error.message}`);
  }
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
  $("exports").hidden = !state.analysis;
  renderTable();
  selectSegment(null);
}

/** The speakers of the segments, when they carry more than one. */
function speakersOf(segments) {
  // In order of first appearance (the analysis lists them so).
  const speakers = [...new Set(segments.map((s) => s.speaker).filter((s) => s))];
  return speakers.length > 1 ? speakers : [];
}

function selectSegment(index) {
  state.selected = index;
  const segment = index === null ? null : state.segments[index];
  const conversation = state.segments.length > 1;
  $("whole-button").hidden = segment === null || (!conversation && !state.prediction);
  $("whole-button").textContent = conversation ? "Back to the summary" : "Show the whole clip";
  $("speakers-box").hidden = true;
  $("moments-box").hidden = true;
  if (segment) {
    showHeadline(segment.label, percent(segment.scores[segment.label]),
      `Utterance ${index + 1}${segment.speaker ? ` (${segment.speaker})` : ""}, ${segment.start.toFixed(2)} to ${segment.end.toFixed(2)} s: probability of each emotion`);
    renderBars(segment.scores);
  } else if (conversation) {
    // The server's summary (sera.summary), the same figures as the JSON export.
    const summary = state.analysis.summary;
    const dominant = summary.dominant_emotion;
    showHeadline(dominant, percent(summary.shares[dominant]),
      `Mostly ${dominant}: share of the speaking time (${summary.speaking_time.toFixed(1)} s in ${state.segments.length} utterances) per emotion`);
    renderBars(Object.fromEntries(Object.entries(summary.shares).filter(([, share]) => share > 0)));
    renderSpeakers(summary);
    renderMoments(summary);
  } else if (state.segments.length === 1) {
    const shown = state.prediction || state.segments[0];
    showHeadline(shown.label, percent(shown.scores[shown.label]),
      state.prediction ? "The whole clip: probability of each emotion" : "The one utterance: probability of each emotion");
    renderBars(shown.scores);
  } else {
    showHeadline("No speech", "", "No utterance was found: the audio is silent or holds no voice.");
    renderBars({});
  }
  for (const row of $("segment-rows").children) {
    row.classList.toggle("selected", Number(row.dataset.index) === index);
    row.setAttribute("aria-selected", String(Number(row.dataset.index) === index));
  }
  drawWaveform();
}

function showHeadline(label, confidence, caption) {
  $("result-label").textContent = label;
  $("result-confidence").textContent = confidence;
  $("result-chip").style.background = confidence ? colorOf(label) : "transparent";
  $("scores-caption").textContent = caption;
}

function renderSpeakers(summary) {
  const rows = $("speaker-rows");
  rows.replaceChildren();
  const entries = Object.entries(summary.speakers);
  const speakers = entries.length > 1 ? entries : [];
  for (const [speaker, s] of speakers) {
    const mostly = document.createElement("td");
    const chip = element("span", "", "chip small");
    chip.style.background = colorOf(s.dominant_emotion);
    chip.setAttribute("aria-hidden", "true");
    mostly.append(chip, document.createTextNode(s.dominant_emotion));
    const row = document.createElement("tr");
    row.append(element("th", speaker), element("td", `${s.speaking_time.toFixed(1)} s`), mostly,
      element("td", percent(s.shares[s.dominant_emotion])),
      element("td", fixed(s.mean_arousal), "affect-col"),
      element("td", fixed(s.mean_valence), "affect-col"));
    row.firstChild.scope = "row";
    rows.append(row);
  }
  $("speakers-box").hidden = speakers.length === 0;
}

/** The moments to act on: the utterances of highest arousal and the mood changes, each a
 * button that plays it. */
function renderMoments(summary) {
  const index = (start, speaker) => state.segments.findIndex((s) => s.start === start && s.speaker === speaker);
  const fill = (list, items, text) => {
    list.replaceChildren();
    for (const item of items) {
      const button = element("button", text(item), "link-button");
      button.type = "button";
      button.addEventListener("click", () => playSegment(index(item.start, item.speaker)));
      const entry = document.createElement("li");
      entry.append(button);
      list.append(entry);
    }
  };
  fill($("peak-list"), summary.peaks,
    (p) => `${p.start.toFixed(1)} s, ${p.speaker}: ${p.label}, arousal ${p.arousal.toFixed(2)}`);
  fill($("change-list"), summary.mood_changes,
    (c) => `${c.start.toFixed(1)} s, ${c.speaker}: ${c.from} to ${c.to} (${percent(c.probability)})`);
  $("changes-none").hidden = summary.mood_changes.length > 0;
  $("moments-box").hidden = summary.peaks.length === 0;
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
  const speakers = speakersOf(state.segments);
  for (const cell of document.querySelectorAll(".speaker-col")) cell.hidden = speakers.length === 0;
  $("segments-caption").textContent = count
    ? `${count} utterance${count === 1 ? "" : "s"}: choose one to hear it and see its probabilities`
    : "No speech found in this audio";
  state.segments.forEach((segment, index) => {
    const row = document.createElement("tr");
    row.dataset.index = index;
    row.className = "segment-row";
    // The whole row is clickable; the button in it is the keyboard's way in.
    row.addEventListener("click", () => playSegment(index));
    const pick = element("button", String(index + 1), "link-button");
    pick.type = "button";
    pick.setAttribute("aria-label", `Play utterance ${index + 1}: ${segment.label}, ${segment.start.toFixed(2)} to ${segment.end.toFixed(2)} s`);
    pick.addEventListener("click", (event) => {
      event.stopPropagation();
      playSegment(index);
    });
    const first = document.createElement("td");
    first.append(pick);
    const emotion = document.createElement("td");
    const chip = element("span", "", "chip small");
    chip.style.background = colorOf(segment.label);
    chip.setAttribute("aria-hidden", "true");
    emotion.append(chip, document.createTextNode(segment.label));
    const speaker = element("td", segment.speaker || "", "speaker-col");
    speaker.hidden = speakers.length === 0;
    row.append(first, element("td", `${segment.start.toFixed(2)} s`), element("td", `${segment.end.toFixed(2)} s`),
      speaker, emotion, element("td", percent(segment.scores[segment.label])),
      element("td", fixed(segment.arousal), "affect-col"),
      element("td", fixed(segment.valence), "affect-col"));
    rows.append(row);
  });
}

/** Select an utterance and play just its span. */
function playSegment(index) {
  selectSegment(index);
  const segment = state.segments[index];
  const player = $("player");
  state.playUntil = segment.end;
  player.currentTime = segment.start;
  player.play().catch(() => {});   // a browser may refuse to play without a gesture; the seek stays
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

/** Where things are on the canvas: the waveform on top, then one timeline lane per speaker
 * (one lane when speakers are not told apart), the arousal lane (when the model gives
 * arousal), then the time axis. */
function timelineLayout(width, height) {
  const speakers = speakersOf(state.segments);
  const lanes = Math.max(1, speakers.length);
  const lane = lanes > 1 ? 16 : 18;
  const arousalLane = state.segments.some((s) => typeof s.arousal === "number") ? AROUSAL_LANE : 0;
  const axis = 20;
  const gutter = lanes > 1 ? 28 : 0;
  const waveHeight = height - lanes * lane - arousalLane - axis - 6;
  const duration = (state.clip && state.clip.duration) || 1;
  const arousalTop = waveHeight + 4 + lanes * lane;
  return {
    speakers, lanes, lane, waveHeight, gutter, duration, arousalTop, arousalLane,
    x: (seconds) => gutter + (seconds / duration) * (width - gutter),
    seconds: (px) => ((px - gutter) / (width - gutter)) * duration,
    laneTop: (segment) => waveHeight + 4 + lane * Math.max(0, speakers.indexOf(segment.speaker)),
    // Arousal 1 at the top of its lane, 0 at the bottom.
    arousalY: (arousal) => arousalTop + 2 + (1 - arousal) * (arousalLane - 4),
  };
}

//: Height (px) of the timeline's arousal lane.
const AROUSAL_LANE = 24;

/** The index of the utterance at a point of the canvas, or null. */
function segmentAt(px, py) {
  const canvas = $("waveform");
  const layout = timelineLayout(canvas.clientWidth, canvas.clientHeight);
  const t = layout.seconds(px);
  let found = null;
  state.segments.forEach((segment, index) => {
    if (t < segment.start || t > segment.end) return;
    const top = layout.laneTop(segment);
    const inLane = py >= top && py <= top + layout.lane;
    const inArousal = py >= layout.arousalTop && py <= layout.arousalTop + layout.arousalLane;
    if (py < layout.waveHeight || inLane || inArousal) found = index;
  });
  return found;
}

/** The waveform, each utterance's span shaded in its emotion's colour, the timeline lanes
 * under it, and the playback position. */
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
  const layout = timelineLayout(width, height);
  const { x, waveHeight, lane, duration } = layout;

  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  layout.speakers.forEach((speaker, i) => {
    g.fillStyle = ink;
    g.textAlign = "left";
    g.fillText(speaker, 0, waveHeight + 4 + lane * i + lane / 2);
  });
  state.segments.forEach((segment, index) => {
    const left = x(segment.start);
    const span = Math.max(2, x(segment.end) - left);
    g.globalAlpha = state.selected === null || state.selected === index ? 0.22 : 0.08;
    g.fillStyle = colorOf(segment.label);
    g.fillRect(left, 0, span, waveHeight);
    g.globalAlpha = 1;
    const top = layout.laneTop(segment);
    g.fillRect(left, top + 1, span, lane - 2);
    if (state.selected === index) {
      g.strokeStyle = ink;
      g.lineWidth = 2;
      g.strokeRect(left + 1, top + 2, span - 2, lane - 4);
    }
  });
  g.globalAlpha = 1;
  drawArousal(g, layout, width, ink, faint);
  g.fillStyle = faint;
  g.fillRect(layout.gutter, waveHeight / 2, width - layout.gutter, 1);
  const step = niceStep(duration, (width - layout.gutter) / 80);
  for (let t = step; t < duration; t += step) g.fillRect(x(t), 0, 1, waveHeight);
  if (clip.peaks) {
    const { low, high } = clip.peaks;
    let peak = 1e-3;
    for (let i = 0; i < low.length; i++) peak = Math.max(peak, -low[i], high[i]);
    const scale = (waveHeight / 2 - 4) / peak;
    g.fillStyle = ink;
    for (let px = layout.gutter; px < width; px++) {
      const c = Math.min(low.length - 1, Math.floor(((px - layout.gutter) / (width - layout.gutter)) * low.length));
      const top = waveHeight / 2 - high[c] * scale;
      const bottom = waveHeight / 2 - low[c] * scale;
      g.fillRect(px, top, 1, Math.max(1, bottom - top));
    }
  }
  g.fillStyle = ink;
  g.textBaseline = "top";
  const axisTop = layout.arousalTop + layout.arousalLane + 5;
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const px = x(t);
    g.textAlign = px < layout.gutter + 10 ? "left" : px > width - 20 ? "right" : "center";
    g.fillText(`${Number(t.toFixed(2))} s`, px, axisTop);
  }
  const player = $("player");
  if (player.currentTime > 0) {
    g.fillStyle = "#e4572e";
    g.fillRect(x(player.currentTime), 0, 2, layout.arousalTop + layout.arousalLane);
  }
  canvas.setAttribute("aria-label", describeTimeline());
}

/** Arousal over time: each utterance's arousal as a level across its span, joined from one
 * utterance to the next, over a dashed line at 0.5 (neither high nor low). */
function drawArousal(g, layout, width, ink, faint) {
  if (!layout.arousalLane) return;
  const { x, arousalY, arousalTop, arousalLane } = layout;
  g.setLineDash([3, 3]);
  g.strokeStyle = faint;
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(layout.gutter, arousalY(0.5));
  g.lineTo(width, arousalY(0.5));
  g.stroke();
  g.setLineDash([]);
  if (layout.gutter) {
    g.fillStyle = ink;
    g.textAlign = "left";
    g.fillText("A", 0, arousalTop + arousalLane / 2);
  }
  g.strokeStyle = "#e4572e";
  g.lineWidth = 2;
  g.beginPath();
  let started = false;
  for (const segment of state.segments) {
    if (typeof segment.arousal !== "number") continue;
    const y = arousalY(segment.arousal);
    if (started) g.lineTo(x(segment.start), y);
    else g.moveTo(x(segment.start), y);
    g.lineTo(x(segment.end), y);
    started = true;
  }
  g.stroke();
}

function describeTimeline() {
  const clip = state.clip;
  const spans = state.segments.map((s) => `${s.speaker ? `${s.speaker} ` : ""}${s.label}${typeof s.arousal === "number" ? ` (arousal ${s.arousal.toFixed(2)})` : ""} from ${s.start.toFixed(1)} to ${s.end.toFixed(1)} s`);
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

/** An arousal or valence to two decimals; a dash without one. */
function fixed(value) {
  return typeof value === "number" ? value.toFixed(2) : "–";
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
  document.body.classList.toggle("busy", busy);
  if (!busy) showProgress(null);
  $("drop-zone").setAttribute("aria-busy", String(busy));
}

function animatePlayhead() {
  const player = $("player");
  if (state.playUntil !== null && player.currentTime >= state.playUntil) {
    player.pause();
    state.playUntil = null;
  }
  drawWaveform();
  if (!player.paused) requestAnimationFrame(animatePlayhead);
}

document.addEventListener("DOMContentLoaded", () => {
  setUpToken();
  setUpInput();
  loadModel();
  $("player").addEventListener("play", animatePlayhead);
  $("player").addEventListener("seeked", drawWaveform);
  // Playing on from the player's own controls plays on to the end.
  $("player").addEventListener("pause", () => { state.playUntil = null; });
  window.addEventListener("resize", drawWaveform);
});
