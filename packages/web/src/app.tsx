/**
 * The top of the app: language, and which screen shows. The first screen appears at once;
 * the engine chunk starts loading right after it has painted, and then confirms whether
 * this browser holds an account (the quick IndexedDB hint can be wrong, e.g. after a
 * creation that failed half-way).
 */
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ACCOUNT_DATABASE } from './account-db.ts';
import { databaseHint, loadEngine, type Session } from './engine-loader.ts';
import { HTML_LANG, I18nContext, storeLang, storedLang, translator, type I18n, type Lang } from './i18n.ts';
import { MainScreen } from './screens/main-screen.tsx';
import { useDeviceUi } from './components/device-ui-loader.ts';
import { CreateAccount, Loading, Unlock } from './screens/welcome.tsx';

/**
 * Runs `run` once the first screen has been painted (the browser's first-contentful-paint
 * entry), or after a while in a browser that does not report paints (or a hidden tab).
 */
function afterFirstPaint(run: () => void): () => void {
  let done = false;
  let observer: PerformanceObserver | undefined;
  const go = (): void => {
    if (done) return;
    done = true;
    observer?.disconnect();
    clearTimeout(timer);
    run();
  };
  const timer = setTimeout(go, 1500);
  try {
    observer = new PerformanceObserver((list) => {
      if (list.getEntriesByName('first-contentful-paint').length > 0) go();
    });
    observer.observe({ type: 'paint', buffered: true });
  } catch {
    // no paint timing here: the timer decides
  }
  return () => {
    done = true;
    observer?.disconnect();
    clearTimeout(timer);
  };
}

type Phase =
  | { kind: 'start' }
  | { kind: 'create' }
  | { kind: 'link' }
  | { kind: 'restore' }
  | { kind: 'unlock' }
  | { kind: 'main'; session: Session };

export function App(): JSX.Element {
  const [lang, setLang] = useState<Lang>(storedLang);
  const i18n = useMemo<I18n>(
    () => ({
      lang,
      t: translator(lang),
      setLang: (l) => {
        storeLang(l);
        setLang(l);
      },
    }),
    [lang],
  );
  useEffect(() => {
    document.documentElement.lang = HTML_LANG[lang];
    document.title = i18n.t('app.title');
  }, [i18n]);

  const [phase, setPhase] = useState<Phase>({ kind: 'start' });
  const [engineFailed, setEngineFailed] = useState(false);
  const decided = useRef(false);

  useEffect(() => {
    let live = true;
    const decide = (exists: boolean): void => {
      if (!live || decided.current) return;
      // The engine's answer may correct the hint's (create ↔ unlock), never a screen the user
      // chose meanwhile (link, restore) or an open account.
      setPhase((p) =>
        p.kind === 'start' || p.kind === 'create' || p.kind === 'unlock'
          ? { kind: exists ? 'unlock' : 'create' }
          : p,
      );
    };
    void databaseHint(ACCOUNT_DATABASE).then((hint) => {
      if (hint !== undefined) decide(hint);
    });
    const cancel = afterFirstPaint(() => {
      loadEngine()
        .then((engine) => engine.accountExists())
        .then(decide, (e: unknown) => {
          console.warn('parus: engine failed to load', e);
          if (live) setEngineFailed(true);
        });
    });
    return () => {
      live = false;
      cancel();
    };
  }, []);

  const enter = (session: Session): void => {
    decided.current = true;
    setPhase({ kind: 'main', session });
  };
  const lock = (session: Session): void => {
    void session.close();
    setPhase({ kind: 'unlock' });
  };

  const deviceUi = useDeviceUi(phase.kind === 'link' || phase.kind === 'restore');
  const toCreate = (): void => setPhase({ kind: 'create' });

  let screen: JSX.Element;
  if (phase.kind === 'main')
    screen = <MainScreen session={phase.session} onLock={() => lock(phase.session)} />;
  else if (phase.kind === 'create')
    screen = <CreateAccount onDone={enter} onOther={(way) => setPhase({ kind: way })} />;
  else if (phase.kind === 'link' || phase.kind === 'restore')
    screen = !deviceUi ? (
      <Loading failed={false} />
    ) : phase.kind === 'link' ? (
      <deviceUi.LinkToAccount onDone={enter} onBack={toCreate} />
    ) : (
      <deviceUi.RestoreBackup onDone={enter} onBack={toCreate} />
    );
  else if (phase.kind === 'unlock') screen = <Unlock onDone={enter} />;
  else screen = <Loading failed={engineFailed} />;
  return <I18nContext.Provider value={i18n}>{screen}</I18nContext.Provider>;
}
