/**
 * Group actions' errors in words. The power and member errors come from engine/group-session.ts
 * (checked by name, as errors.ts does, so the first screen need not import the engine chunk).
 */
import { errorText } from '../errors.ts';
import type { Translate } from '../i18n.ts';

const ROLES = ['creator', 'admin', 'moderator', 'member'] as const;

export function groupErrorText(e: unknown, t: Translate): string {
  if (!(e instanceof Error)) return errorText(e, t);
  const fields = e as Error & { needs?: string; member?: string; alias?: string };
  switch (e.name) {
    case 'GroupPowerError': {
      const role = ROLES.find((r) => r === fields.needs) ?? 'creator';
      return role === 'creator'
        ? t('group.error.powerOver')
        : t('group.error.power', { role: t(`group.role.${role}`) });
    }
    case 'NoSuchMemberError':
      return t('group.error.noMember', { name: fields.member ?? '' });
    case 'NoContactError':
      return t('group.error.noContact', { name: fields.alias ?? '' });
    case 'UsageError':
    case 'NotFoundError':
      return t('group.error.refused', { reason: e.message });
    default:
      return errorText(e, t);
  }
}
