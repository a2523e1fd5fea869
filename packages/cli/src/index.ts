export { main, USAGE } from './main.ts';
