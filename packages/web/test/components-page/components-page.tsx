/**
 * The components made ready for the engine's next APIs (stickers, typing), wired here the
 * way the chat will wire them: the composer's sticker panel appends stickers to a message
 * list drawn with StickerView, and the typing indicator is fed events from buttons.
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { Composer } from '../../src/components/composer.tsx';
import { StickerView } from '../../src/components/sticker-view.tsx';
import { TypingIndicator } from '../../src/components/typing-indicator.tsx';
import { HTML_LANG, I18nContext, storedLang, translator } from '../../src/i18n.ts';
import '../../src/emoji-font.css';
import '../../src/styles.css';

function Page() {
  const lang = storedLang();
  document.documentElement.lang = HTML_LANG[lang];
  const [draft, setDraft] = useState('');
  const [stickers, setStickers] = useState<Array<{ pack: string; id: string }>>([]);
  const [typingUntil, setTypingUntil] = useState<number | undefined>();
  const [typingSignals, setTypingSignals] = useState(0);
  const [sent, setSent] = useState<string[]>([]);
  return (
    <I18nContext.Provider value={{ lang, t: translator(lang), setLang: () => undefined }}>
      <div class="row">
        <button type="button" onClick={() => setTypingUntil(Date.now() + 600_000)}>
          typing event
        </button>
        <button type="button" onClick={() => setTypingUntil(undefined)}>
          typing stopped
        </button>
        <output id="typing-signals">{typingSignals}</output>
        <output id="sent">{sent.join('|')}</output>
      </div>
      <div class="app has-active">
        <main class="chat-pane">
          <section class="chat">
            <ol class="messages" aria-label="messages">
              <li class="msg msg-in">
                <StickerView pack="someone-elses-pack" id="wave" />
              </li>
              {stickers.map((s, i) => (
                <li key={i} class="msg msg-out">
                  <StickerView pack={s.pack} id={s.id} />
                </li>
              ))}
            </ol>
            <TypingIndicator name="Amei" typingUntil={typingUntil} />
            <Composer
              value={draft}
              onChange={setDraft}
              onSend={(text) => {
                setSent((list) => [...list, text]);
                setDraft('');
              }}
              onAction={(text) => {
                setSent((list) => [...list, `action:${text}`]);
                setDraft('');
              }}
              onTyping={() => setTypingSignals((n) => n + 1)}
              onSticker={(pack, id) => setStickers((list) => [...list, { pack, id }])}
            />
          </section>
        </main>
      </div>
    </I18nContext.Provider>
  );
}

render(<Page />, document.getElementById('app')!);
