// imagesearch web chat: plain browser JavaScript, no build step. The server keeps the conversation
// (keyed by an HttpOnly session cookie); this page only renders replies and sends messages.
const log = document.getElementById('log');
const form = document.getElementById('composer');
const textInput = document.getElementById('text');
const fileInput = document.getElementById('image');
const uploadLabel = document.querySelector('.upload');

// After the first results, every message is a follow-up in the same conversation ("new: …" starts over).
let followUp = sessionStorage.getItem('imagesearch.followUp') === '1';
const setFollowUp = (value) => {
  followUp = value;
  sessionStorage.setItem('imagesearch.followUp', value ? '1' : '0');
};

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// Messages use *word* for emphasis (as in Slack); render it safely, without innerHTML.
function richText(text) {
  const p = el('p');
  text.split(/(\*[^*\n]+\*)/g).forEach((part) => {
    if (/^\*[^*\n]+\*$/.test(part)) p.append(el('em', { text: part.slice(1, -1) }));
    else if (part) p.append(document.createTextNode(part));
  });
  return p;
}

function addMessage(who, nodes, extraClass = '') {
  const msg = el('div', { class: `msg ${who} ${extraClass}`.trim() }, nodes);
  log.append(msg);
  msg.scrollIntoView({ behavior: 'smooth', block: 'end' });
  return msg;
}

function actionRow(label, actions) {
  const row = el('div', { class: 'actions' }, [el('span', { class: 'label', text: label })]);
  for (const a of actions) {
    const text = a.type === 'open' || a.type === 'more-like' ? a.label.replace(/^\D+/, '') : a.label;
    const button = el('button', {
      type: 'button',
      class: a.primary ? 'primary' : '',
      'data-action': a.id,
      'aria-label': a.label,
      text,
    });
    button.addEventListener('click', () => send({ action: a.id, echo: a.label }));
    row.append(button);
  }
  return row;
}

function renderReply(reply) {
  if (reply.kind === 'results') {
    setFollowUp(true);
    const grid = el('img', {
      class: 'grid',
      src: reply.gridUrl,
      alt: `Results for ${reply.query}`,
      'data-ids': reply.picks.map((p) => p.id).join(','),
    });
    const credits = el('div', { class: 'credits' });
    // Credits only where there is someone to credit (or a page to link); no "1: photo" filler.
    reply.picks
      .filter((p) => p.credit || p.link)
      .forEach((p, i) => {
        if (i > 0) credits.append(' · ');
        const name = `${p.n}: ${p.credit ?? 'source'}`;
        credits.append(
          p.link ? el('a', { href: p.link, target: '_blank', rel: 'noopener', text: name }) : name,
        );
      });
    const by = (type) => reply.actions.filter((a) => a.type === type);
    addMessage(
      'bot',
      [
        richText(reply.text),
        grid,
        credits,
        actionRow('Open', by('open')),
        actionRow('More like', by('more-like')),
        actionRow('', [...by('reroll'), ...by('start-over')]),
      ],
      'results',
    );
  } else if (reply.kind === 'open') {
    const nodes = [richText(reply.text)];
    if (reply.imageUrl) {
      const img = el('img', { class: 'photo', src: reply.imageUrl, alt: `Photo ${reply.n}` });
      nodes.push(reply.link ? el('a', { href: reply.link, target: '_blank', rel: 'noopener' }, [img]) : img);
    }
    addMessage('bot', nodes, 'open');
  } else {
    addMessage('bot', [richText(reply.text)], `notice ${reply.level ?? ''}`);
  }
}

let busy = false;
async function send({ text, action, file, echo }) {
  if (busy) return;
  busy = true;
  const userNodes = [richText(echo ?? text ?? '')];
  if (file)
    userNodes.push(el('img', { class: 'preview', src: URL.createObjectURL(file), alt: 'Your photo' }));
  addMessage('user', userNodes);
  const pending = addMessage('bot', [el('p', { text: 'Searching…' })], 'pending');
  const body = new FormData();
  if (text) body.append('text', text);
  if (action) body.append('action', action);
  body.append('followUp', followUp ? '1' : '0');
  body.append('requestId', crypto.randomUUID());
  if (file) body.append('image', file, file.name);
  try {
    const res = await fetch('/api/chat', { method: 'POST', body, credentials: 'same-origin' });
    const reply = await res.json();
    pending.remove();
    renderReply(reply);
  } catch {
    pending.remove();
    renderReply({ kind: 'notice', level: 'error', text: "I couldn't reach the bot. Is it still running?" });
  } finally {
    busy = false;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  const file = fileInput.files?.[0];
  if (!text && !file) return;
  textInput.value = '';
  fileInput.value = '';
  uploadLabel.classList.remove('has-file');
  send({ text, file, echo: text || (file ? '(photo)' : '') });
});

fileInput.addEventListener('change', () => {
  uploadLabel.classList.toggle('has-file', Boolean(fileInput.files?.length));
  textInput.focus();
});

addMessage('bot', [
  richText('Hi! Tell me what to look for — for example *a red bicycle in the rain*. Say *help* for tips.'),
]);
textInput.focus();
