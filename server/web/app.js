// The page at / of topicd's HTTP port: it calls the JSON API (GET /v1/models,
// POST /v1/classify with explain) and shows the answer. No framework, no network beyond topicd.
"use strict";

const $ = (id) => document.getElementById(id);

// Larger files are refused before they are sent: the server's own limits are lower still and
// answer with a message that names them.
const maxFileBytes = 16 << 20;
// Terms per label asked for: enough to mark most of the words that mattered.
const explainTerms = 25;

// fallbacks maps each model to its fallback label ("other"), whose terms are never marked.
const fallbacks = new Map();

const knownColors = ["cybersecurity", "migration", "diplomacy", "other"];
const extraColors = ["extra1", "extra2", "extra3"];

function colorOf(label, labels) {
  if (knownColors.includes(label)) return `var(--${label})`;
  const i = Math.max(0, labels.indexOf(label));
  return `var(--${extraColors[i % extraColors.length]})`;
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
}

function setStatus(msg) {
  $("status").textContent = msg;
}

async function loadModels() {
  try {
    const resp = await fetch("/v1/models");
    const body = await resp.json();
    if (!resp.ok) throw new Error(body.message || resp.statusText);
    const sel = $("model");
    sel.replaceChildren();
    for (const m of body.models || []) {
      const o = document.createElement("option");
      o.value = m.name;
      o.textContent = m.default ? `${m.name} (default)` : m.name;
      if (m.name === body.defaultModel) o.selected = true;
      fallbacks.set(m.name, m.fallbackLabel);
      sel.append(o);
    }
  } catch (err) {
    showError(`Could not list the models: ${err.message}. Is topicd running?`);
  }
}

function readFile(file) {
  showError("");
  if (file.size > maxFileBytes) {
    showError(`${file.name} is ${file.size} bytes, too large: the page sends at most ${maxFileBytes} bytes. Send a shorter file.`);
    return;
  }
  const isHTML = /\.html?$/i.test(file.name) || file.type === "text/html";
  const isText = /\.txt$/i.test(file.name) || file.type === "text/plain";
  if (!isHTML && !isText) {
    showError(`${file.name} is neither a .txt nor an .html file. Drop a text or HTML file.`);
    return;
  }
  const r = new FileReader();
  r.onload = () => {
    $("text").value = r.result;
    $("html").checked = isHTML;
    setStatus(`Read ${file.name} (${file.size} bytes). Press Classify.`);
  };
  r.onerror = () => showError(`Could not read ${file.name}.`);
  r.readAsText(file);
}

async function classify(ev) {
  ev?.preventDefault();
  showError("");
  const text = $("text").value;
  if (!text.trim()) {
    showError("The text is empty: paste an article or drop a .txt or .html file first.");
    $("text").focus();
    return;
  }
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > maxFileBytes) {
    showError(`The text is ${bytes} bytes, too large: send at most ${maxFileBytes} bytes.`);
    return;
  }
  const req = {
    document: { text, contentType: $("html").checked ? "CONTENT_TYPE_HTML" : "CONTENT_TYPE_TEXT" },
    model: $("model").value,
    options: { explain: true, explainTerms },
  };
  const button = $("classify");
  button.disabled = true;
  setStatus("Classifying…");
  try {
    const resp = await fetch("/v1/classify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(req),
    });
    let body;
    try {
      body = await resp.json();
    } catch {
      throw new Error(`the server answered ${resp.status} ${resp.statusText}`);
    }
    if (!resp.ok) {
      const what = resp.status === 413 ? "Too large" : `Error ${resp.status}`;
      throw new Error(`${what}: ${body.message || resp.statusText}`);
    }
    render(body.classification, text, req.document.contentType === "CONTENT_TYPE_HTML");
    setStatus(`Classified ${body.classification.stats?.bytes ?? bytes} bytes with ${body.classification.model}.`);
  } catch (err) {
    $("results").hidden = true;
    setStatus("");
    showError(err.message.startsWith("Failed to fetch") ? "topicd did not answer: is it running?" : err.message);
  } finally {
    button.disabled = false;
  }
}

function render(c, sentText, isHTML) {
  const labels = (c.scores || []).map((s) => s.label);
  $("label").textContent = c.label;
  $("confidence").textContent = pct(c.confidence);
  $("abstained").hidden = !c.abstained;

  const scores = $("scores");
  scores.replaceChildren();
  for (const s of c.scores || []) {
    const li = document.createElement("li");
    li.dataset.label = s.label;
    li.style.setProperty("--c", colorOf(s.label, labels));
    const name = document.createElement("span");
    name.textContent = s.label;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", `${s.label} confidence`);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", String(s.confidence));
    const fill = document.createElement("span");
    fill.style.width = `${(s.confidence * 100).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = pct(s.confidence);
    li.append(name, bar, value);
    scores.append(li);
  }

  renderTopics(c.topics || [], labels);

  const read = isHTML && c.extracted ? c.extracted : { title: "", text: sentText };
  $("read-title").textContent = read.title || "";
  const marked = markedTerms(c.explanations || [], c);
  $("highlighted").replaceChildren(...highlight(read.text, marked, labels));

  const legend = $("legend");
  legend.replaceChildren();
  for (const label of new Set([...marked.values()].map((m) => m.label))) {
    const s = document.createElement("span");
    s.style.setProperty("--c", colorOf(label, labels));
    s.textContent = label;
    legend.append(s);
  }

  $("results").hidden = false;
  $("result-heading").focus();
}

function renderTopics(topics, labels) {
  const box = $("topics-box");
  box.hidden = topics.length === 0;
  const list = $("topics");
  const evidence = $("evidence");
  list.replaceChildren();
  evidence.replaceChildren();
  for (const t of topics) {
    const li = document.createElement("li");
    li.className = t.present ? "chip" : "chip absent";
    li.dataset.topic = t.topic;
    li.dataset.present = String(!!t.present);
    li.style.setProperty("--c", colorOf(t.topic, labels));
    li.textContent = `${t.topic} ${pct(t.probability)}${t.present ? "" : " (not present)"}`;
    list.append(li);
    if (t.present && t.evidence && t.evidence.text) {
      const q = document.createElement("blockquote");
      q.dataset.topic = t.topic;
      q.style.setProperty("--c", colorOf(t.topic, labels));
      const cite = document.createElement("cite");
      cite.textContent = `Why ${t.topic}:`;
      q.append(cite, document.createTextNode(t.evidence.text));
      evidence.append(q);
    }
  }
}

// markedTerms maps each term (lower case) to the label it pushed hardest toward. Only labels the
// document is about are marked: the present topics when the answer has topics, otherwise the
// top label; never the fallback label, whose terms are the absence of a topic.
function markedTerms(explanations, c) {
  const present = (c.topics || []).filter((t) => t.present).map((t) => t.topic);
  const wanted = new Set(present.length ? present : [c.label]);
  const fallback = fallbacks.get(c.model) ?? "other";
  const best = new Map();
  for (const x of explanations) {
    if (!wanted.has(x.label) || x.label === fallback) continue;
    for (const t of x.terms || []) {
      if (!(t.weight > 0)) continue;
      const term = t.term.toLowerCase();
      const prev = best.get(term);
      if (!prev || prev.weight < t.weight) best.set(term, { label: x.label, weight: t.weight });
    }
  }
  return best;
}

// Words as the tokenizer sees them, near enough: letters and digits, with inner apostrophes.
const wordRE = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

// highlight returns text as nodes, each marked word (or two-word term) in a <mark> of its
// label's colour. Words match terms case-insensitively, a possessive ("ministry's") as its word.
function highlight(text, marked, labels) {
  const words = [...text.matchAll(wordRE)];
  const key = (w) => w[0].toLowerCase().replace(/['’]s$/, "");
  const out = [];
  let last = 0;
  for (let i = 0; i < words.length; i++) {
    let from = words[i], to = words[i];
    let hit = null;
    if (i + 1 < words.length && /^\s+$/.test(text.slice(from.index + from[0].length, words[i + 1].index))) {
      hit = marked.get(`${key(from)} ${key(words[i + 1])}`);
      if (hit) to = words[++i];
    }
    hit = hit || marked.get(key(from));
    if (!hit) continue;
    const start = from.index, end = to.index + to[0].length;
    if (start > last) out.push(document.createTextNode(text.slice(last, start)));
    const mark = document.createElement("mark");
    mark.dataset.label = hit.label;
    mark.style.setProperty("--c", colorOf(hit.label, labels));
    mark.title = `${hit.label} +${hit.weight.toFixed(2)}`;
    mark.textContent = text.slice(start, end);
    out.push(mark);
    last = end;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function pct(x) {
  return `${(100 * (x || 0)).toFixed(1)} %`;
}

function setup() {
  $("form").addEventListener("submit", classify);
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify(e);
  });
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) readFile(e.target.files[0]);
  });
  const area = $("text");
  area.addEventListener("dragover", (e) => {
    e.preventDefault();
    area.classList.add("drop");
  });
  area.addEventListener("dragleave", () => area.classList.remove("drop"));
  area.addEventListener("drop", (e) => {
    e.preventDefault();
    area.classList.remove("drop");
    if (e.dataTransfer.files.length) readFile(e.dataTransfer.files[0]);
  });
  loadModels();
}

setup();
