// The review of a completed consultation: transcript with segment times,
// the extracted fields, evidence highlighting and the exports.  Every
// string from the document is untrusted and goes through textContent.
//
// Evidence is {segment, start_char, end_char}: byte offsets into the UTF-8
// of segments[segment].text (docs/architecture.md); they are turned into
// string offsets before highlighting.

import { $, clock, dash, el, when } from './util.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
let doc = null;
let selected = null;

function evidenceList(ev) {
  if (!ev) return [];
  return (Array.isArray(ev) ? ev : [ev]).filter((e) => e && Number.isInteger(e.segment));
}

// Byte offsets -> [start, end) in the JS string, clamped.
function charRange(text, startByte, endByte) {
  const bytes = enc.encode(text);
  const s = Math.max(0, Math.min(bytes.length, startByte | 0));
  const e = Math.max(s, Math.min(bytes.length, endByte | 0));
  const a = dec.decode(bytes.subarray(0, s)).length;
  return [a, a + dec.decode(bytes.subarray(s, e)).length];
}

function segmentText(li, text, range) {
  const span = li.querySelector('.seg-text');
  if (!range) {
    span.replaceChildren(document.createTextNode(text));
    return null;
  }
  const [a, b] = range;
  const mark = el('mark', { text: text.slice(a, b) });
  span.replaceChildren(document.createTextNode(text.slice(0, a)), mark,
    document.createTextNode(text.slice(b)));
  return mark;
}

function clearHighlight() {
  for (const li of $('transcript').querySelectorAll('li.hl')) {
    li.classList.remove('hl');
    const seg = doc.segments[Number(li.dataset.seg)];
    segmentText(li, seg ? seg.text : '', null);
  }
  if (selected) selected.setAttribute('aria-pressed', 'false');
  selected = null;
}

// Shows the evidence of one item (its button is `btn`).
function select(btn, evidence, label) {
  const same = selected === btn;
  clearHighlight();
  if (same) { $('ev-status').textContent = ''; return; }
  selected = btn;
  btn.setAttribute('aria-pressed', 'true');
  const evs = evidenceList(evidence);
  let first = null;
  for (const ev of evs) {
    const seg = (doc.segments || [])[ev.segment];
    const li = $('transcript').querySelector(`li[data-seg="${ev.segment}"]`);
    if (!seg || !li) continue;
    li.classList.add('hl');
    const mark = segmentText(li, seg.text, charRange(seg.text, ev.start_char, ev.end_char));
    if (!first) first = { mark, seg };
  }
  if (first) {
    first.mark.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    $('ev-status').textContent = `Evidence for ${label}: said at ${clock(first.seg.start)}.`;
  } else {
    $('ev-status').textContent = `No evidence recorded for ${label}.`;
  }
}

// A selectable item: a button showing `label`, linked to its evidence.
function itemButton(label, evidence, cls = 'ev') {
  const has = evidenceList(evidence).length > 0;
  const b = el('button', { class: has ? cls : `${cls} no-ev`, text: label,
    attrs: { type: 'button', 'aria-pressed': 'false', 'aria-controls': 'transcript',
      title: has ? 'Show where this was said' : 'No evidence recorded' } });
  b.addEventListener('click', () => select(b, evidence, label));
  return b;
}

function fillList(id, items, render) {
  const ul = $(id);
  ul.replaceChildren();
  for (const it of items) ul.append(el('li', {}, render(it)));
  if (!items.length) ul.append(el('li', { class: 'none', text: 'None recorded' }));
}

function medText(m) {
  return [m.name || m.text, m.dose, m.route, m.frequency, m.duration && `for ${m.duration}`,
    m.as_needed ? 'as needed' : null].filter(Boolean).join(' ');
}

export function render(d) {
  doc = d;
  selected = null;
  $('ev-status').textContent = '';
  // Diagnosis: the list when present, else the single string
  const dx = (d.diagnoses && d.diagnoses.length) ? d.diagnoses
    : (d.diagnosis ? [{ name: d.diagnosis }] : []);
  fillList('f-diagnosis', dx, (x) => {
    const frag = el('span', {}, itemButton(x.name, x.evidence));
    if (x.certainty && x.certainty !== 'confirmed') frag.append(el('span', { class: 'qual', text: ` (${x.certainty.replace('_', ' ')})` }));
    if (x.main) frag.append(el('span', { class: 'badge', text: 'main' }));
    return frag;
  });

  const tbody = $('f-meds').querySelector('tbody');
  tbody.replaceChildren();
  for (const m of d.medications || []) {
    const tr = el('tr', {}, el('th', { attrs: { scope: 'row' } }, itemButton(m.name || m.text, m.evidence)));
    for (const v of [m.dose, m.route, m.frequency, m.duration, m.status]) tr.append(el('td', { text: dash(v) }));
    tbody.append(tr);
  }
  if (!(d.medications || []).length) {
    tbody.append(el('tr', {}, el('td', { class: 'none', text: 'None recorded', attrs: { colspan: 6 } })));
  }

  const allergies = d.allergies || [];
  fillList('f-allergies', allergies, (a) => itemButton(a.reaction ? `${a.substance} (${a.reaction})` : a.substance, a.evidence));
  if (!allergies.length && d.allergies_stated === 'none') {
    $('f-allergies').replaceChildren(el('li', { text: 'No known allergies' }));
  }
  const fu = d.follow_up ? [{ text: d.follow_up, evidence: d.follow_up_evidence }] : [];
  fillList('f-followup', fu, (f) => el('span', { text: f.text }));
  fillList('f-negations', d.negations || [], (n) => itemButton(n.finding, n.evidence));
  fillList('f-symptoms', d.symptoms || [], (s) => itemButton(s.name, s.evidence));
  fillList('f-tasks', d.tasks || [], (t) => itemButton(t.text, t.evidence));
  fillList('f-vitals', d.vital_signs || [], (v) => itemButton(`${v.name}: ${v.value}${v.unit ? ' ' + v.unit : ''}`, v.evidence));
  $('f-notes').textContent = dash(d.notes);

  const ol = $('transcript');
  ol.replaceChildren();
  (d.segments || []).forEach((s, i) => {
    ol.append(el('li', { attrs: { 'data-seg': i } },
      el('span', { class: 't', text: `${clock(s.start)}–${clock(s.end)}` }),
      el('span', { class: 'seg-text', text: s.text })));
  });
  if (!(d.segments || []).length) ol.append(el('li', { class: 'none', text: 'No speech was recognised.' }));
}

export function asText(d) {
  const lines = [];
  lines.push(`Consultation ${d.audio_key}`);
  if (d.patient_id) lines.push(`Patient: ${d.patient_id}`);
  if (d.created_at) lines.push(`Recorded: ${when(d.created_at)}`);
  lines.push('');
  const dx = (d.diagnoses || []).map((x) => x.name + (x.certainty && x.certainty !== 'confirmed' ? ` (${x.certainty})` : ''));
  lines.push(`Diagnosis: ${dx.join('; ') || dash(d.diagnosis)}`);
  lines.push('Medications:');
  for (const m of d.medications || []) lines.push(`- ${medText(m)}${m.status ? ` [${m.status}]` : ''}`);
  if (!(d.medications || []).length) lines.push('- none recorded');
  const al = (d.allergies || []).map((a) => a.substance + (a.reaction ? ` (${a.reaction})` : ''));
  lines.push(`Allergies: ${al.join('; ') || (d.allergies_stated === 'none' ? 'no known allergies' : '—')}`);
  lines.push(`Follow-up: ${dash(d.follow_up)}`);
  lines.push(`Denied: ${(d.negations || []).map((n) => n.finding).join('; ') || '—'}`);
  if ((d.symptoms || []).length) lines.push(`Symptoms: ${d.symptoms.map((s) => s.name).join('; ')}`);
  if ((d.tasks || []).length) lines.push(`Tests and referrals: ${d.tasks.map((t) => t.text).join('; ')}`);
  if ((d.vital_signs || []).length) lines.push(`Vital signs: ${d.vital_signs.map((v) => `${v.name} ${v.value}${v.unit ? ' ' + v.unit : ''}`).join('; ')}`);
  if (d.notes) lines.push(`Notes: ${d.notes}`);
  lines.push('', 'Transcript:');
  for (const s of d.segments || []) lines.push(`[${clock(s.start)}] ${s.text}`);
  return lines.join('\n');
}
