/**
 * The emoji picker's built-in list: a curated few per category, not the whole Unicode set
 * (a full emoji database would outweigh the rest of the first screen). Each button's name
 * is the emoji itself, which screen readers speak by its CLDR name in the reader's language.
 */
import type { MessageKey } from '../i18n.ts';

export interface EmojiCategory {
  id: 'smileys' | 'gestures' | 'hearts' | 'animals' | 'food' | 'things';
  label: MessageKey;
  /** The tab's symbol. */
  icon: string;
  emoji: readonly string[];
}

const split = (s: string): string[] => s.split(' ');

export const EMOJI: readonly EmojiCategory[] = [
  {
    id: 'smileys',
    label: 'emoji.smileys',
    icon: '😀',
    emoji: split(
      '😀 😄 😁 😆 😂 🤣 😊 😇 🙂 😉 😍 🥰 😘 😋 😜 🤪 🤗 🤭 🤔 😐 😴 😌 😎 🥳 😳 🥺 😢 😭 😤 😡 😱 😅 🙃 🤩 😏 😬',
    ),
  },
  {
    id: 'gestures',
    label: 'emoji.gestures',
    icon: '👍',
    emoji: split('👍 👎 👌 ✌️ 🤞 🤙 👋 👏 🙌 🙏 💪 🤝 👉 👈 👆 👇 ✋ 🤘 🫶 🙇 🙆 🙅 🤷 💁'),
  },
  {
    id: 'hearts',
    label: 'emoji.hearts',
    icon: '❤️',
    emoji: split('❤️ 🧡 💛 💚 💙 💜 🤍 🖤 💕 💖 💗 💔 ✨ 🌟 🔥 💯 ✅ ❌ ❓ ❗ 💤 💢 💦 🎵'),
  },
  {
    id: 'animals',
    label: 'emoji.animals',
    icon: '🐦',
    emoji: split('🐦 🐥 🐧 🦉 🐱 🐶 🐰 🐻 🐼 🐨 🐯 🦊 🐷 🐸 🐵 🐢 🐟 🐳 🦋 🐝 🌸 🌻 🌈 ☀️'),
  },
  {
    id: 'food',
    label: 'emoji.food',
    icon: '🧋',
    emoji: split('🧋 🍵 ☕ 🍜 🍚 🍙 🥟 🍱 🍢 🍡 🍧 🍰 🎂 🍦 🍩 🍓 🍉 🍍 🥭 🍊 🍺 🍻 🍗 🌶️'),
  },
  {
    id: 'things',
    label: 'emoji.things',
    icon: '🎉',
    emoji: split('🎉 🎊 🎁 🧧 🏮 🎈 📱 💻 📷 🎮 🎧 📚 ✏️ 📌 🏠 🚗 🚇 ✈️ 🛵 ⛰️ 🏖️ ⏰ 💰 🌙'),
  },
];
