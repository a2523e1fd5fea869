import { render } from 'preact';
import { App } from './app.tsx';
import { applyFontSize, applyTheme, storedFontSize, storedTheme } from './theme.ts';
import './emoji-font.css';
import './styles.css';

applyTheme(storedTheme());
applyFontSize(storedFontSize());
render(<App />, document.getElementById('app')!);
